import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { RenderSlots } from './export-limits.js';

/** A render the test finishes by hand, and whether it has begun. */
function heldRender() {
  let finish!: (value: string) => void;
  let fail!: (error: Error) => void;
  const state = { begun: false };
  const done = new Promise<string>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return {
    state,
    finish,
    fail,
    render: () => {
      state.begun = true;
      return done;
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('render slots', () => {
  it('runs at most `renders` at once, queues `queued` more in arrival order, and refuses the next with 503', async () => {
    const slots = new RenderSlots({ renders: 2, queued: 2 });
    const renders = Array.from({ length: 4 }, heldRender);
    const results = renders.map((held) => slots.run(held.render));
    const refused = await slots.run(async () => 'never').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect((refused as AppError).options.retryAfterSeconds).toBeGreaterThan(0);
    await settle();
    expect(renders.map((held) => held.state.begun)).toEqual([true, true, false, false]);
    expect([slots.running, slots.waiting]).toEqual([2, 2]);

    // The slot that frees goes to the first in line, and a newcomer meanwhile waits behind the queue.
    renders[1]!.finish('second');
    await settle();
    const late = heldRender();
    const lateResult = slots.run(late.render);
    await settle();
    expect(renders.map((held) => held.state.begun)).toEqual([true, true, true, false]);
    expect(late.state.begun).toBe(false);
    for (const held of [renders[0]!, renders[2]!, renders[3]!, late]) {
      held.finish('done');
      await settle();
    }
    expect(await Promise.all([...results, lateResult])).toEqual(['done', 'second', 'done', 'done', 'done']);
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it('gives the slot back when a render throws, so the next one runs', async () => {
    const slots = new RenderSlots({ renders: 1, queued: 1 });
    const failing = heldRender();
    const next = heldRender();
    const failed = slots.run(failing.render).catch((error: Error) => error.message);
    const following = slots.run(next.render);
    failing.fail(new Error('the font is broken'));
    expect(await failed).toBe('the font is broken');
    await settle();
    expect(next.state.begun).toBe(true);
    next.finish('rendered');
    expect(await following).toBe('rendered');
    // A render that throws before its first await gives its slot back too.
    await expect(
      slots.run(() => {
        throw new Error('at once');
      }),
    ).rejects.toThrow('at once');
    expect(await slots.run(async () => 'after')).toBe('after');
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it('drops a waiter whose request is abandoned, and the work behind it still runs when the slot frees', async () => {
    const slots = new RenderSlots({ renders: 1, queued: 2 });
    const first = heldRender();
    const running = slots.run(first.render);
    const leaving = new AbortController();
    const abandoned = heldRender();
    const abandonedResult = slots.run(abandoned.render, leaving.signal).catch((error: Error) => error.name);
    const behind = heldRender();
    const behindResult = slots.run(behind.render);
    leaving.abort();
    expect(await abandonedResult).toBe('AbortError');
    // Its place in the queue is free at once: another request may wait there.
    expect(slots.waiting).toBe(1);
    first.finish('first');
    await running;
    await settle();
    expect(abandoned.state.begun).toBe(false);
    expect(behind.state.begun).toBe(true);
    behind.finish('behind');
    expect(await behindResult).toBe('behind');
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it('refuses options that would never run anything', () => {
    expect(() => new RenderSlots({ renders: 0, queued: 1 })).toThrow(RangeError);
    expect(() => new RenderSlots({ renders: 1, queued: -1 })).toThrow(RangeError);
  });
});
