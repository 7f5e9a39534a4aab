import { describe, expect, it } from 'vitest';
import { createLifecycle, startWith, withLifecycle } from '../../src/roles/lifecycle.ts';

function recorder() {
  const warnings: { resource: string; err: string }[] = [];
  return { warnings, log: { warn: (fields: { resource: string; err: string }) => warnings.push(fields) } as never };
}

describe('lifecycle', () => {
  it('given three opened resources, when closed, then they close last opened first, once', async () => {
    const closed: string[] = [];
    const { log, warnings } = recorder();
    const life = createLifecycle(log);
    for (const name of ['nats', 'redis', 'server'])
      await life.open(
        name,
        async () => name,
        (r) => void closed.push(r),
      );
    await Promise.all([life.close(), life.close()]);
    await life.close();
    expect(closed).toEqual(['server', 'redis', 'nats']);
    expect(warnings).toEqual([]);
  });

  it('given a close that fails, then it is logged with its name, and the earlier ones still close', async () => {
    const closed: string[] = [];
    const { log, warnings } = recorder();
    const life = createLifecycle(log);
    life.defer({ name: 'first', close: () => void closed.push('first') });
    life.defer({
      name: 'broken',
      close: () => Promise.reject(new Error('boom')),
      force: () => void closed.push('broken forced'),
    });
    await expect(life.close()).resolves.toBeUndefined();
    expect(closed).toEqual(['broken forced', 'first']);
    expect(warnings).toEqual([{ resource: 'broken', err: 'boom' }]);
  });

  it('given a close that hangs, then it is abandoned after the timeout, forced, and the next close runs', async () => {
    const closed: string[] = [];
    const { log, warnings } = recorder();
    const life = createLifecycle(log, { closeTimeoutMs: 50 });
    life.defer({ name: 'first', close: () => void closed.push('first') });
    life.defer({
      name: 'stuck',
      close: () => new Promise(() => undefined),
      force: () => void closed.push('stuck forced'),
    });
    const started = Date.now();
    await life.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(closed).toEqual(['stuck forced', 'first']);
    expect(warnings[0]).toEqual({ resource: 'stuck', err: 'did not close within 50 ms' });
  });

  it('given a build that fails half-way, then what was opened is closed and the error is rethrown unchanged', async () => {
    const closed: string[] = [];
    const { log } = recorder();
    const failure = new Error('redis unreachable');
    let opened = false;
    await expect(
      startWith(log, async (life) => {
        await life.open(
          'nats',
          async () => 'nc',
          () => void closed.push('nats'),
        );
        await life.open(
          'redis',
          async () => {
            throw failure;
          },
          () => {
            opened = true;
          },
        );
      }),
    ).rejects.toBe(failure);
    expect(closed).toEqual(['nats']);
    expect(opened).toBe(false);
  });

  it('given a finished build, then its shutdown closes, and opening after close is refused', async () => {
    const closed: string[] = [];
    const { log } = recorder();
    let kept: Parameters<Parameters<typeof startWith>[1]>[0] | undefined;
    const shutdown = await startWith(log, async (life) => {
      kept = life;
      life.defer({ name: 'a', close: () => void closed.push('a') });
    });
    expect(closed).toEqual([]);
    await shutdown();
    expect(closed).toEqual(['a']);
    await expect(
      kept!.open(
        'late',
        async () => 1,
        () => undefined,
      ),
    ).rejects.toThrow(/already closing/);
  });

  it('withLifecycle closes after the use, whether it resolved or threw', async () => {
    const closed: string[] = [];
    const { log } = recorder();
    await expect(
      withLifecycle(log, async (life) => {
        life.defer({ name: 'x', close: () => void closed.push('x') });
        return 7;
      }),
    ).resolves.toBe(7);
    await expect(
      withLifecycle(log, async (life) => {
        life.defer({ name: 'y', close: () => void closed.push('y') });
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(closed).toEqual(['x', 'y']);
  });
});
