/** Fault: kill -9 of the bitmap-projector under load, restarted after 3 s (checks: test/faults/harness.ts). */
import { roleKillSuite } from './role-kill.ts';

roleKillSuite('bitmapkill', 'bitmap-projector');
