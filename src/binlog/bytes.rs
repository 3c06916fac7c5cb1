//! A bounds-checked little-endian cursor over an event body. Every read returns an error
//! instead of panicking when the bytes run out: binlog contents are untrusted input.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    pub what: &'static str,
    pub need: usize,
    pub have: usize,
}

impl std::fmt::Display for Short {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event too short reading {} (needs {} more bytes, {} left)",
            self.what, self.need, self.have
        )
    }
}

pub type Res<T> = std::result::Result<T, Short>;

#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Res<&'a [u8]> {
        if self.remaining() < n {
            return Err(Short {
                what,
                need: n,
                have: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize, what: &'static str) -> Res<()> {
        self.take(n, what).map(|_| ())
    }

    pub fn u8(&mut self, what: &'static str) -> Res<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Res<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &'static str) -> Res<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &'static str) -> Res<u64> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// An unsigned little-endian integer of `n` (≤ 8) bytes.
    pub fn uint(&mut self, n: usize, what: &'static str) -> Res<u64> {
        let b = self.take(n, what)?;
        Ok(le_uint(b))
    }

    /// The protocol's length-encoded integer.
    pub fn packed(&mut self, what: &'static str) -> Res<u64> {
        match self.u8(what)? {
            n @ 0..=250 => Ok(u64::from(n)),
            251 => Ok(0), // NULL in a result set; not used in events
            252 => self.uint(2, what),
            253 => self.uint(3, what),
            _ => self.uint(8, what),
        }
    }
}

pub fn le_uint(b: &[u8]) -> u64 {
    b.iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

pub fn be_uint(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_refuses_past_the_end() {
        let mut c = Cursor::new(&[1, 2, 0, 252, 0x34, 0x12]);
        assert_eq!(c.u8("a").unwrap(), 1);
        assert_eq!(c.u16("b").unwrap(), 2);
        assert_eq!(c.packed("c").unwrap(), 0x1234);
        let e = c.u32("d").unwrap_err();
        assert_eq!(
            e.to_string(),
            "event too short reading d (needs 4 more bytes, 0 left)"
        );
        assert_eq!(be_uint(&[1, 0]), 256);
        assert_eq!(le_uint(&[1, 0]), 1);
    }
}
