import { writeFileSync } from 'node:fs';
import { encodeVideo } from './src/adapters/image/ffmpeg-video.ts';
import { PALETTE_32 } from './src/domain/palette.ts';
async function* frames() { for (let i = 0; i < 30; i++) yield new Uint8Array(7 * 5).fill(i % 32); }
const parts: Uint8Array[] = [];
for await (const c of encodeVideo({ ffmpegPath: 'ffmpeg', palette: PALETTE_32 }, { format: 'webm', width: 7, height: 5, fps: 10 }, frames())) parts.push(c);
writeFileSync('/tmp/e-probe/enc.webm', Buffer.concat(parts));
