// Injects a Node.js single-executable-application blob into a copy of the node binary (ELF,
// Linux), as postject does (docs/cli.md "Single executable"), for scripts/build-kubectl-moco.sh:
//   node scripts/sea-inject.ts NODE_BINARY BLOB OUTPUT
// Node finds the blob at run time by walking the PT_NOTE segments of its program headers for a
// note named NODE_SEA_BLOB, once the SEA fuse string ends in ":1". The program header table
// sits right after the ELF header and cannot grow in place, so two entries are rewritten:
//   - the PT_NOTE entry points at a new region appended to the file, holding a copy of the
//     notes it described followed by the NODE_SEA_BLOB note;
//   - the PT_GNU_RELRO entry becomes the PT_LOAD that maps that region (read-only), placed
//     above every other segment. The copy therefore loses RELRO hardening (its relocation
//     tables stay writable after start-up); nothing else changes.
// postject (an npm package, not available here) adds a segment instead; a build with it can
// replace this script.
import fs from "node:fs";

const SENTINEL = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const NOTE_NAME = "NODE_SEA_BLOB";
const PT_LOAD = 1;
const PT_NOTE = 4;
const PT_GNU_RELRO = 0x6474e552;
const PF_R = 4;
/** Alignment of the appended segment: a multiple of every page size Linux uses (4 KiB–64 KiB). */
const SEGMENT_ALIGN = 0x10000n;

interface Phdr { index: number; type: number; offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint; align: bigint }

const roundUp = (v: bigint, a: bigint) => ((v + a - 1n) / a) * a;

function phdrs(elf: Buffer): Phdr[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error("not an ELF file");
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error("only 64-bit little-endian ELF is supported");
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  return Array.from({ length: phnum }, (_, index) => {
    const o = phoff + index * phentsize;
    return {
      index, type: elf.readUInt32LE(o), offset: elf.readBigUInt64LE(o + 8), vaddr: elf.readBigUInt64LE(o + 16),
      filesz: elf.readBigUInt64LE(o + 32), memsz: elf.readBigUInt64LE(o + 40), align: elf.readBigUInt64LE(o + 48),
    };
  });
}

function writePhdr(elf: Buffer, index: number, p: { type: number; flags: number; offset: bigint; vaddr: bigint; size: bigint; align: bigint }): void {
  const o = Number(elf.readBigUInt64LE(0x20)) + index * elf.readUInt16LE(0x36);
  elf.writeUInt32LE(p.type, o);
  elf.writeUInt32LE(p.flags, o + 4);
  elf.writeBigUInt64LE(p.offset, o + 8);
  elf.writeBigUInt64LE(p.vaddr, o + 16);
  elf.writeBigUInt64LE(p.vaddr, o + 24);
  elf.writeBigUInt64LE(p.size, o + 32);
  elf.writeBigUInt64LE(p.size, o + 40);
  elf.writeBigUInt64LE(p.align, o + 48);
}

/** An ELF note (namesz, descsz, type, name, desc), name and desc padded to 4 bytes. */
function note(name: string, desc: Buffer): Buffer {
  const n = Buffer.from(`${name}\0`);
  const header = Buffer.alloc(12);
  header.writeUInt32LE(n.length, 0);
  header.writeUInt32LE(desc.length, 4);
  header.writeUInt32LE(0, 8);
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  return Buffer.concat([header, pad(n), pad(desc)]);
}

/** The node binary with `blob` injected and the fuse flipped. */
export function injectSeaBlob(node: Buffer, blob: Buffer): Buffer {
  const elf = Buffer.from(node);
  const fuse = Buffer.from(`${SENTINEL}:0`);
  const at = elf.indexOf(fuse);
  if (at < 0) throw new Error(`the fuse ${SENTINEL}:0 is missing (already injected, or not a Node.js binary)`);
  if (elf.indexOf(fuse, at + 1) >= 0) throw new Error(`the fuse ${SENTINEL} appears more than once`);
  elf.write("1", at + fuse.length - 1);

  const table = phdrs(elf);
  const loads = table.filter((p) => p.type === PT_LOAD);
  const notes = table.filter((p) => p.type === PT_NOTE);
  const relro = table.find((p) => p.type === PT_GNU_RELRO);
  if (notes.length === 0) throw new Error("no PT_NOTE program header to point at the blob");
  if (relro === undefined) throw new Error("no PT_GNU_RELRO program header to turn into the blob's PT_LOAD");
  if (loads.some((l) => l.index > relro.index)) throw new Error("a PT_LOAD follows PT_GNU_RELRO: the new PT_LOAD would break their order");
  const noteHdr = notes[0]!;
  if (noteHdr.align > 4n) throw new Error(`PT_NOTE alignment ${noteHdr.align} is not supported`);

  const existing = elf.subarray(Number(noteHdr.offset), Number(noteHdr.offset + noteHdr.filesz));
  const region = Buffer.concat([existing, Buffer.alloc((4 - (existing.length % 4)) % 4), note(NOTE_NAME, blob)]);
  const offset = roundUp(BigInt(elf.length), SEGMENT_ALIGN);
  const top = loads.reduce((m, l) => (l.vaddr + l.memsz > m ? l.vaddr + l.memsz : m), 0n);
  const vaddr = roundUp(top, SEGMENT_ALIGN) + SEGMENT_ALIGN;
  const size = BigInt(region.length);
  writePhdr(elf, noteHdr.index, { type: PT_NOTE, flags: PF_R, offset, vaddr, size, align: 4n });
  writePhdr(elf, relro.index, { type: PT_LOAD, flags: PF_R, offset, vaddr, size, align: SEGMENT_ALIGN });
  return Buffer.concat([elf, Buffer.alloc(Number(offset) - elf.length), region]);
}

if (import.meta.main) {
  const [nodeBin, blobFile, output] = process.argv.slice(2);
  if (!nodeBin || !blobFile || !output) {
    console.error("usage: node scripts/sea-inject.ts NODE_BINARY BLOB OUTPUT");
    process.exit(2);
  }
  const out = injectSeaBlob(fs.readFileSync(nodeBin), fs.readFileSync(blobFile));
  fs.writeFileSync(`${output}.tmp`, out, { mode: 0o755 });
  fs.renameSync(`${output}.tmp`, output);
}
