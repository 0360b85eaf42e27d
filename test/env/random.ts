// Random test data: a seeded generator for reproducible fuzzing, and fresh MOCO passwords.
import { randomBytes } from "node:crypto";

import { PASSWORD_KEYS, type MocoPasswords } from "../../src/mysql/users.ts";

/** mulberry32: a seeded generator of numbers in [0, 1), the same sequence for the same seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every MOCO password (PASSWORD_KEYS), each 32 random hex characters. */
export function randomPasswords(): MocoPasswords {
  return Object.fromEntries(PASSWORD_KEYS.map((k) => [k, randomBytes(16).toString("hex")])) as MocoPasswords;
}
