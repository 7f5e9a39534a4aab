/** Fault: kill -9 of the history under load, restarted after 3 s (checks: test/faults/harness.ts). */
import { roleKillSuite } from './role-kill.ts';

roleKillSuite('historykill', 'history');
