import { describe, expect, it } from 'vitest';
import { singleFlight } from './single-flight.js';

/** A run the test ends when it chooses. */
function controlledRuns() {
  const runs: Array<{ resolve: (value: number) => void; reject: (error: Error) => void }> = [];
  const run = () =>
    new Promise<number>((resolve, reject) => {
      runs.push({ resolve, reject });
    });
  return { runs, run };
}

describe('singleFlight', () => {
  it('gives callers that arrive while a run is going that run, and its result', async () => {
    const { runs, run } = controlledRuns();
    const shared = singleFlight(run);
    const answers = [shared(), shared(), shared()];
    expect(runs).toHaveLength(1);
    runs[0]!.resolve(7);
    expect(await Promise.all(answers)).toEqual([7, 7, 7]);
  });

  it('starts a new run for a caller that arrives after the last one ended', async () => {
    const { runs, run } = controlledRuns();
    const shared = singleFlight(run);
    const first = shared();
    runs[0]!.resolve(1);
    expect(await first).toBe(1);
    const second = shared();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve(2);
    expect(await second).toBe(2);
  });

  it("hands a failed run's error to every caller waiting on it, then runs again", async () => {
    const { runs, run } = controlledRuns();
    const shared = singleFlight(run);
    const answers = [shared(), shared()].map((answer) => answer.catch((error: Error) => error));
    const failure = new Error('connection lost');
    runs[0]!.reject(failure);
    expect(await Promise.all(answers)).toEqual([failure, failure]);
    const next = shared();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve(3);
    expect(await next).toBe(3);
  });

  it('runs again after a run that threw before it returned a promise', async () => {
    let calls = 0;
    const shared = singleFlight(() => {
      calls += 1;
      if (calls === 1) throw new Error('refused at once');
      return Promise.resolve(calls);
    });
    await expect(shared()).rejects.toThrow('refused at once');
    expect(await shared()).toBe(2);
  });
});
