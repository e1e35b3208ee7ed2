//! SipHash-1-3 with a key chosen at start, so remote hosts cannot predict
//! which tuples share a bucket (hash flooding).

/// A 128-bit hash key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashKey {
    k0: u64,
    k1: u64,
}

impl HashKey {
    /// A key from two random words (the kernel uses `get_random_bytes`).
    pub const fn new(k0: u64, k1: u64) -> HashKey {
        HashKey { k0, k1 }
    }
}

struct State {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl State {
    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.v0 ^= m;
    }
}

impl State {
    #[inline(always)]
    fn new(key: &HashKey) -> State {
        State {
            v0: key.k0 ^ 0x736f_6d65_7073_6575,
            v1: key.k1 ^ 0x646f_7261_6e64_6f6d,
            v2: key.k0 ^ 0x6c79_6765_6e65_7261,
            v3: key.k1 ^ 0x7465_6462_7974_6573,
        }
    }

    #[inline(always)]
    fn finish(mut self) -> u64 {
        self.v2 ^= 0xff;
        self.round();
        self.round();
        self.round();
        self.v0 ^ self.v1 ^ self.v2 ^ self.v3
    }
}

/// SipHash-1-3 of two words, equal to [`siphash`] of their 16
/// little-endian bytes: the flow hash's input, with no byte shuffling.
#[inline(always)]
pub fn siphash_words(key: &HashKey, w0: u64, w1: u64) -> u64 {
    let mut s = State::new(key);
    s.compress(w0);
    s.compress(w1);
    // The final word: no tail bytes, the length (16) in its top byte.
    s.compress(16 << 56);
    s.finish()
}

/// SipHash-1-3 of `words`, equal to [`siphash`] of their little-endian
/// bytes (IPv6 flows hash five words).
#[inline(never)]
pub fn siphash_slice(key: &HashKey, words: &[u64]) -> u64 {
    let mut s = State::new(key);
    for &w in words {
        s.compress(w);
    }
    // Length in bytes, low byte only, in the top byte of the last word.
    let len = (words.len().wrapping_mul(8) & 0xff) as u64;
    s.compress(len << 56);
    s.finish()
}

/// SipHash-1-3 of `data` under `key`.
pub fn siphash(key: &HashKey, data: &[u8]) -> u64 {
    let mut s = State::new(key);
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        s.compress(u64::from_le_bytes(word));
    }
    let mut last = [0u8; 8];
    for (dst, src) in last.iter_mut().zip(chunks.remainder()) {
        *dst = *src;
    }
    // The final word carries the length's low byte in its top byte.
    let len_byte = (data.len() & 0xff) as u64;
    s.compress(u64::from_le_bytes(last) | len_byte << 56);
    s.finish()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    // Compared with an independent SipHash-1-3 (the `siphasher` crate),
    // key 0..16, input 0..n for every tail length.
    #[test]
    fn matches_reference_siphash13() {
        use core::hash::Hasher;
        use siphasher::sip::SipHasher13;
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let key = HashKey::new(k0, k1);
        let data: [u8; 24] = core::array::from_fn(|i| i as u8);
        for n in 0..=data.len() {
            let mut h = SipHasher13::new_with_keys(k0, k1);
            h.write(&data[..n]);
            assert_eq!(siphash(&key, &data[..n]), h.finish(), "length {n}");
        }
    }

    #[test]
    fn words_hash_like_their_bytes() {
        let key = HashKey::new(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        for (w0, w1) in [(0u64, 0u64), (1, 2), (u64::MAX, 0x1234_5678_9abc_def0)] {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&w0.to_le_bytes());
            bytes[8..].copy_from_slice(&w1.to_le_bytes());
            assert_eq!(siphash_words(&key, w0, w1), siphash(&key, &bytes));
            assert_eq!(siphash_slice(&key, &[w0, w1, w1, w0, 7]), {
                let mut b = bytes.to_vec();
                b.extend_from_slice(&bytes[8..]);
                b.extend_from_slice(&bytes[..8]);
                b.extend_from_slice(&7u64.to_le_bytes());
                siphash(&key, &b)
            });
        }
    }
}
