/**
 * The WebSocket protocol version, in a module of its own so code that needs only the number (the binary
 * frames, the browser client) does not pull zod and the message schemas into the browser bundle.
 */
export const PROTOCOL_VERSION = 1;
