//! Protocol-buffer wire format, just enough to walk ONNX messages: fields of a message as
//! (number, value) with length-delimited values borrowed from the buffer.

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the fields of one message.
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or("truncated field")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            other => return Err(format!("unsupported wire type {other} (field {field})")),
        };
        Ok(Some((field, value)))
    }
}

/// Appends the varints of a repeated integer field, packed (bytes) or not (one varint).
pub(crate) fn push_varints(value: Value<'_>, out: &mut Vec<u64>) -> Result<(), String> {
    match value {
        Value::Varint(v) => out.push(v),
        Value::Bytes(b) => {
            let mut f = Fields::new(b);
            while f.pos < b.len() {
                out.push(f.varint()?);
            }
        }
        _ => return Err("expected an integer field".into()),
    }
    Ok(())
}

/// Appends the floats of a repeated float field, packed (bytes) or not (one fixed32).
pub(crate) fn push_floats(value: Value<'_>, out: &mut Vec<f32>) -> Result<(), String> {
    match value {
        Value::Fixed32(v) => out.push(f32::from_bits(v)),
        Value::Bytes(b) if b.len() % 4 == 0 => {
            out.extend(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        }
        _ => return Err("expected a float field".into()),
    }
    Ok(())
}

/// A length-delimited field as UTF-8 text.
pub(crate) fn string(value: Value<'_>) -> Result<String, String> {
    match value {
        Value::Bytes(b) => String::from_utf8(b.to_vec()).map_err(|_| "string field is not UTF-8".into()),
        _ => Err("expected a string field".into()),
    }
}

/// A length-delimited field's bytes (a sub-message or bytes).
pub(crate) fn bytes(value: Value<'_>) -> Result<&[u8], String> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err("expected a length-delimited field".into()),
    }
}
