/** The CopyBackend conformance suite on the memory backend (the reference for unit tests). */
import { createMemoryBackend } from '../../src/storage/memory/memory-backend.js';
import { copyBackendSuite } from '../suites/copy-backend-suite.js';

copyBackendSuite('memory', {
  open: async () => createMemoryBackend(),
  largeBytes: 64 * 1024 * 1024,
  // memory holds what it stores: the bound is the object plus slack
  memoryBound: 256 * 1024 * 1024,
});
