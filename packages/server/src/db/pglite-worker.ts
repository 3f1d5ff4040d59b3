/**
 * The code of the worker thread that owns the PGlite instance (see `pglite-thread.ts` for the protocol).
 *
 * It is plain JavaScript in a string, started with `new Worker(source, { eval: true })`: that runs the same way
 * from the TypeScript sources (Vitest, tsx) and from `dist`, with no worker file to resolve or transpile.
 * PGlite is imported from the URL the main thread resolved, so both threads load the same build.
 */
export const pgliteWorkerSource = /* js */ `
const { parentPort, workerData } = require('node:worker_threads');

const raw = (text) => text;
const rolledBack = Symbol('rolled back');
const transactions = new Map();
let pglite;

function reply(id, result) {
  try {
    parentPort.postMessage({ id, result });
  } catch (error) {
    fail(id, error);
  }
}

// Structured clone keeps only an Error's message: copy what callers read (code, detail, constraint, ...).
// The query's parameters may hold secrets, and its options hold functions: neither crosses.
function fail(id, error) {
  if (typeof error !== 'object' || error === null) error = new Error(String(error));
  const fields = { name: error.name ?? 'Error', message: error.message ?? String(error) };
  for (const key of Object.keys(error)) {
    const value = error[key];
    const plain = value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol');
    if (plain && key !== 'params') fields[key] = value;
  }
  parentPort.postMessage({ id, error: fields });
}

function options({ rowMode, rawTypes, copyText }) {
  const result = { rowMode };
  // COPY ... FROM '/dev/blob' reads the query's blob.
  if (copyText !== undefined) result.blob = new Blob([copyText]);
  if (rawTypes) {
    result.parsers = {};
    for (const type of rawTypes) result.parsers[type] = raw;
  }
  return result;
}

// PGlite runs the callback holding its transaction lock; the main thread drives it until commit or rollback.
function begin(txId) {
  return new Promise((begun, failed) => {
    const transaction = {};
    transaction.done = pglite
      .transaction((tx) => new Promise((resolve, reject) => {
        transaction.tx = tx;
        transaction.finish = (commit) => (commit ? resolve() : reject(rolledBack));
        transactions.set(txId, transaction);
        begun();
      }))
      .then(
        () => transactions.delete(txId),
        (error) => {
          transactions.delete(txId);
          if (error !== rolledBack) throw error;
        },
      );
    transaction.done.catch(failed);
  });
}

function finish(txId, commit) {
  const transaction = transactions.get(txId);
  if (!transaction) throw new Error('Transaction is closed');
  transaction.finish(commit);
  return transaction.done;
}

function target(txId) {
  if (!txId) return pglite;
  const transaction = transactions.get(txId);
  if (!transaction) throw new Error('Transaction is closed');
  return transaction.tx;
}

async function run(message) {
  switch (message.op) {
    case 'query':
      return target(message.txId).query(message.sql, message.params, options(message));
    case 'exec':
      return target(message.txId).exec(message.sql, options(message));
    case 'begin':
      return begin(message.txId);
    case 'commit':
      return finish(message.txId, true);
    case 'rollback':
      return finish(message.txId, false);
    case 'close':
      return pglite.close();
    default:
      throw new Error('Unknown operation: ' + message.op);
  }
}

// A memory database may start from a dump of another's files (a tar from PGlite's dumpDataDir) instead of initdb.
const startFrom = workerData.startFrom
  ? require('node:fs/promises').readFile(workerData.startFrom).then((bytes) => ({ loadDataDir: new Blob([bytes]) }))
  : Promise.resolve({});

Promise.all([import(workerData.pgliteUrl), startFrom])
  .then(([{ PGlite }, options]) => PGlite.create(workerData.dataDir, options))
  .then(
    (instance) => {
      pglite = instance;
      parentPort.on('message', (message) => {
        run(message).then(
          (result) => reply(message.id, result),
          (error) => fail(message.id, error),
        );
      });
      reply(0);
    },
    (error) => fail(0, error),
  );
`;
