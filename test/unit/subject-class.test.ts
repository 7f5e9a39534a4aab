import { describe, expect, it } from 'vitest';
import { namesFor } from '../../src/domain/names.ts';
import { SubjectClass } from '../../proto/event-codec.ts';

describe('Names.subjectClassOfBytes', () => {
  it('classifies a subject in its bytes as subjectClass classifies the string', () => {
    const names = namesFor('main');
    const subjects = [
      names.pixelSubject(0, 0),
      names.pixelSubject(1999, 1999),
      names.moderationSubject(5, 5),
      names.resizeSubject,
      `${names.resizeSubject}.more`,
      names.resizeSubject.slice(0, -1),
      'rplace.main.mod.',
      'rplace.main.mo',
      'rplace.other.mod.1.1',
      'rplace.main.ops.resizé',
      '',
    ];
    const encoder = new TextEncoder();
    for (const subject of subjects) {
      const bytes = encoder.encode(`HMSG ${subject} 1 2 3`);
      const from = 'HMSG '.length;
      const to = from + encoder.encode(subject).length;
      expect(names.subjectClassOfBytes(bytes, from, to), subject).toBe(names.subjectClass(subject));
    }
    expect(names.subjectClass(names.resizeSubject)).toBe(SubjectClass.Resize);
    expect(names.subjectClass(names.moderationSubject(1, 1))).toBe(SubjectClass.Moderation);
  });
});
