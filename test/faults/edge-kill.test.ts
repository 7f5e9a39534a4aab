/** Fault: kill -9 of the edge1 under load, restarted after 3 s (checks: test/faults/harness.ts). */
import { roleKillSuite } from './role-kill.ts';

roleKillSuite('edgekill', 'edge1');
