// A legacy stream as binary MessagePack frames: npx tsx examples/protocols/legacy-msgpack.ts
import { unpack } from 'msgpackr';
import WebSocket from 'ws';

const server = process.env['SERVER'] ?? 'localhost:9003';
const socket = new WebSocket(`ws://${server}/ws/transactions?encoding=msgpack&meta=1`);

let frames = 0;
socket.on('message', (data: Buffer, isBinary) => {
  if (frames === 5) return; // frames already on their way while the socket closes
  // Each frame is one event: the same object as the JSON frame, as a MessagePack map.
  console.log(isBinary ? JSON.stringify(unpack(data)) : `unexpected text frame: ${data.toString()}`);
  if (++frames === 5) socket.close();
});
