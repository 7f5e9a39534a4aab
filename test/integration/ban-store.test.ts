/**
 * The durable ban store on the real Redis and Postgres: Postgres is the record, the Redis hash a copy
 * rebuilt whenever it is missing, so losing Redis never lifts a ban.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDurableBanStore } from '../../src/adapters/redis/ban-store.ts';
import { createPgBanRecords, type BanRecords } from '../../src/adapters/pg/ban-records.ts';
import { StoreUnavailable } from '../../src/ports/errors.ts';
import { authFixture } from '../helpers/auth-fixture.ts';
import { deleteRedisKeys, testNames } from '../helpers/isolation.ts';

const names = testNames('banstore');
let fx: Awaited<ReturnType<typeof authFixture>>;
let records: BanRecords;

beforeAll(async () => {
  fx = await authFixture(names);
  records = createPgBanRecords(fx.pool, names.pgSchema);
}, 20_000);
afterAll(async () => fx.close(), 20_000);

describe('durable bans', () => {
  it('a ban holds after every Redis key of the canvas is deleted; an unban too', async () => {
    await fx.bans.set('u_banned', 'ban');
    await fx.bans.set('u_shadow', 'shadow');
    await fx.bans.set('u_lifted', 'ban');
    await fx.bans.clear('u_lifted');
    await deleteRedisKeys(fx.redis, names);
    expect(await fx.bans.get('u_banned')).toBe('ban');
    expect(await fx.bans.get('u_shadow')).toBe('shadow');
    expect(await fx.bans.get('u_lifted')).toBeNull();
    expect(await fx.bans.get('u_never')).toBeNull();
    // the copy is complete again, so the next read costs one HMGET and no Postgres query
    expect(await fx.redis.hget(`${names.redisPrefix}bans`, '~loaded')).not.toBeNull();
  });

  it('many placements arriving right after Redis lost the bans trigger one rebuild', async () => {
    let reads = 0;
    const counting: BanRecords = { ...records, all: () => (reads++, records.all()) };
    const store = createDurableBanStore(fx.redis, names.redisPrefix, counting);
    await deleteRedisKeys(fx.redis, names);
    const answers = await Promise.all(Array.from({ length: 200 }, () => store.get('u_banned')));
    expect(new Set(answers)).toEqual(new Set(['ban']));
    expect(reads).toBe(1);
  });

  it('a ban written while Redis is empty is kept by the rebuild that follows', async () => {
    await deleteRedisKeys(fx.redis, names);
    await fx.bans.set('u_late', 'ban'); // the hash now holds only this field, not marked complete
    expect(await fx.bans.get('u_banned')).toBe('ban'); // rebuilds, keeping u_late
    expect(await fx.bans.get('u_late')).toBe('ban');
  });

  it('fails closed: without its Redis copy and without Postgres, a ban check is unavailable, not "not banned"', async () => {
    const down: BanRecords = { ...records, all: () => Promise.reject(new StoreUnavailable('Postgres is down (test)')) };
    const store = createDurableBanStore(fx.redis, names.redisPrefix, down);
    await deleteRedisKeys(fx.redis, names);
    await expect(store.get('u_banned')).rejects.toBeInstanceOf(StoreUnavailable);
  });
});
