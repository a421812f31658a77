// A small seeded pseudo-random generator for reproducible generated inputs:
// a failing case can be replayed from its seed and iteration number.

/** mulberry32: 32-bit state, good enough spread for test inputs. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255);
    return out;
  }

  /** A string drawn from `alphabet` (default: printable ASCII). */
  string(maxLength: number, alphabet?: string): string {
    const length = this.int(0, maxLength);
    let out = "";
    for (let i = 0; i < length; i++) {
      out += alphabet === undefined
        ? String.fromCharCode(this.int(0x20, 0x7e))
        : alphabet[this.int(0, alphabet.length - 1)];
    }
    return out;
  }

  /** A string mixing ASCII, controls, astral characters and lone surrogates. */
  unicode(maxLength: number): string {
    const length = this.int(0, maxLength);
    let out = "";
    for (let i = 0; i < length; i++) {
      switch (this.int(0, 5)) {
        case 0:
          out += String.fromCharCode(this.int(0, 0x1f));
          break;
        case 1:
          out += String.fromCodePoint(this.int(0x80, 0x10ffff) & 0x10ffff);
          break;
        case 2:
          out += String.fromCharCode(this.int(0xd800, 0xdfff));
          break;
        default:
          out += String.fromCharCode(this.int(0x20, 0x7e));
      }
    }
    return out;
  }
}
