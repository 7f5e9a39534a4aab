/**
 * Every migration, in order. A static list (not a directory scan) so tsx, vitest and any bundler load the
 * same set; names sort lexically, and Kysely refuses to run a set whose order disagrees with what ran before.
 */
import type { Migration } from 'kysely';
import * as history0001 from './0001_history.ts';
import * as users0002 from './0002_users.ts';
import * as eventChunks0003 from './0003_event_chunks.ts';
import * as rawSnapshots0004 from './0004_raw_snapshots.ts';
import * as bans0005 from './0005_bans.ts';
import * as userHistory0006 from './0006_user_history.ts';
import * as moderators0007 from './0007_moderators.ts';
import * as snapshotChecksum0009 from './0009_snapshot_checksum.ts';

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_history': history0001,
  '0002_users': users0002,
  '0003_event_chunks': eventChunks0003,
  '0004_raw_snapshots': rawSnapshots0004,
  '0005_bans': bans0005,
  '0006_user_history': userHistory0006,
  '0007_moderators': moderators0007,
  '0009_snapshot_checksum': snapshotChecksum0009,
};
