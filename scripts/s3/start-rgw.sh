#!/usr/bin/env bash
# Starts a throwaway Ceph cluster for tests: one monitor, one in-memory OSD (memstore) and radosgw
# (S3) on loopback, plus an S3 user with the given keys. Everything lives in $RGW_DIR.
# Usage: S3_ACCESS_KEY=... S3_SECRET_KEY=... RGW_PORT=7480 RGW_MON_PORT=3300 RGW_DIR=.rgw scripts/s3/start-rgw.sh
# Stop:  scripts/s3/stop-rgw.sh "$RGW_DIR"      (kills the daemons by the pids in $RGW_DIR/run)
# Needs Debian's ceph-mon, ceph-osd and radosgw (.ci/run installs them). Prints one line
# `S3_ENDPOINT=http://127.0.0.1:PORT` when ready.
set -euo pipefail
D=$(realpath -m "${RGW_DIR:-.rgw}"); PORT=${RGW_PORT:-7480}; MONPORT=${RGW_MON_PORT:-3300}
AK=${S3_ACCESS_KEY:-testkey}; SK=${S3_SECRET_KEY:-testsecret}; MEM=${RGW_MEM_BYTES:-4294967296}
rm -rf "$D"; mkdir -p "$D"/{mon,osd,run,log,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MONPORT
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
[mon]
mon data = $D/mon/\$cluster-\$id
[osd]
osd data = $D/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $MEM
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
CONF
C=(-c "$D/ceph.conf")
ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MONPORT]" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring"
ceph-mon "${C[@]}" -i a
for _ in $(seq 1 30); do timeout 10 ceph "${C[@]}" --connect-timeout 5 -s >/dev/null 2>&1 && break; sleep 1; done
OSD=$(ceph "${C[@]}" osd create); mkdir -p "$D/osd/ceph-$OSD"
ceph-osd "${C[@]}" -i "$OSD" --mkfs >/dev/null 2>&1
ceph-osd "${C[@]}" -i "$OSD" 2>/dev/null
for _ in $(seq 1 60); do ceph "${C[@]}" osd stat 2>/dev/null | grep -q ' 1 up' && break; sleep 1; done
radosgw "${C[@]}" -n client.rgw.a
for _ in $(seq 1 120); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 1; done
radosgw-admin "${C[@]}" user create --uid=test --display-name=test --access-key="$AK" --secret="$SK" >/dev/null
echo "S3_ENDPOINT=http://127.0.0.1:$PORT"
