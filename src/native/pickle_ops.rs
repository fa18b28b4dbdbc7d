//! Splitting a pickle into opcodes and their argument bytes (Python's `pickletools` table), with
//! every length checked against what is left of the input: a declared length never sizes an
//! allocation, and no arithmetic on it can overflow.

pub const PROTO: u8 = 0x80;
pub const STOP: u8 = b'.';
pub const MARK: u8 = b'(';
pub const FRAME: u8 = 0x95;

/// How many argument bytes follow an opcode: fixed, length-prefixed, or newline-terminated.
enum Arg {
    Fixed(usize),
    /// A little-endian length of this many bytes, then that many bytes.
    Counted(usize),
    /// This many newline-terminated lines.
    Lines(usize),
}

fn arg(op: u8) -> Option<Arg> {
    use Arg::*;
    Some(match op {
        b'(' | b'.' | b'0' | b'1' | b'2' | b'N' | b'Q' | b'R' | b'a' | b'b' | b'd' | b'}'
        | b'e' | b'l' | b']' | b'o' | b's' | b't' | b')' | b'u' => Fixed(0),
        0x81 | 0x85..=0x89 | 0x8f..=0x94 | 0x97 | 0x98 => Fixed(0),
        b'K' | b'h' | b'q' | 0x80 | 0x82 => Fixed(1),
        b'M' | 0x83 => Fixed(2),
        b'J' | b'j' | b'r' | 0x84 => Fixed(4),
        b'G' | FRAME => Fixed(8),
        b'U' | b'C' | 0x8a | 0x8c => Counted(1),
        b'T' | b'X' | b'B' | 0x8b => Counted(4),
        0x8d | 0x8e | 0x96 => Counted(8),
        b'F' | b'I' | b'L' | b'P' | b'S' | b'V' | b'g' | b'p' => Lines(1),
        b'c' | b'i' => Lines(2),
        _ => return None,
    })
}

/// Python's name for an opcode, for refusal messages.
pub fn name(op: u8) -> String {
    let known = match op {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        b'i' => "INST",
        b'o' => "OBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        b'a' => "APPEND",
        b'e' => "APPENDS",
        b's' => "SETITEM",
        b'u' => "SETITEMS",
        0x90 => "ADDITEMS",
        _ => return format!("0x{op:02x}"),
    };
    known.to_owned()
}

/// Why a pickle could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    UnknownOpcode(u8),
    /// An argument runs past the end of the input.
    Truncated,
    /// No STOP, or bytes after it.
    NoStop,
}

/// The opcodes of `bytes` with their argument bytes, in order, ending with STOP.
pub struct Ops<'a> {
    bytes: &'a [u8],
    at: usize,
    done: bool,
}

pub fn ops(bytes: &[u8]) -> Ops<'_> {
    Ops {
        bytes,
        at: 0,
        done: false,
    }
}

impl<'a> Ops<'a> {
    fn next_op(&mut self) -> Result<(u8, &'a [u8]), Malformed> {
        let bytes = self.bytes;
        let op = *bytes.get(self.at).ok_or(Malformed::NoStop)?;
        let start = self.at + 1;
        let end = match arg(op).ok_or(Malformed::UnknownOpcode(op))? {
            Arg::Fixed(n) => start.checked_add(n).ok_or(Malformed::Truncated)?,
            Arg::Counted(width) => {
                let len_bytes = bytes
                    .get(start..start.checked_add(width).ok_or(Malformed::Truncated)?)
                    .ok_or(Malformed::Truncated)?;
                let mut len = [0u8; 8];
                len[..width].copy_from_slice(len_bytes);
                let len =
                    usize::try_from(u64::from_le_bytes(len)).map_err(|_| Malformed::Truncated)?;
                (start + width)
                    .checked_add(len)
                    .ok_or(Malformed::Truncated)?
            }
            Arg::Lines(n) => {
                let mut end = start;
                for _ in 0..n {
                    let line = bytes.get(end..).ok_or(Malformed::Truncated)?;
                    end += line
                        .iter()
                        .position(|b| *b == b'\n')
                        .ok_or(Malformed::Truncated)?
                        + 1;
                }
                end
            }
        };
        let arg = bytes.get(start..end).ok_or(Malformed::Truncated)?;
        self.at = end;
        if op == STOP {
            self.done = true;
            if end != bytes.len() {
                return Err(Malformed::NoStop);
            }
        }
        Ok((op, arg))
    }
}

impl<'a> Iterator for Ops<'a> {
    type Item = Result<(u8, &'a [u8]), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_op();
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

/// The argument of a Counted opcode without its length prefix.
pub fn counted(op: u8, arg: &[u8]) -> &[u8] {
    let width = match op {
        b'U' | b'C' | 0x8a | 0x8c => 1,
        b'T' | b'X' | b'B' | 0x8b => 4,
        _ => 8,
    };
    arg.get(width..).unwrap_or_default()
}

/// A line argument without its newline.
pub fn line(arg: &[u8]) -> &[u8] {
    arg.strip_suffix(b"\n").unwrap_or(arg)
}

/// A little-endian unsigned integer of up to 8 bytes.
pub fn le(arg: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = arg.len().min(8);
    b[..n].copy_from_slice(&arg[..n]);
    u64::from_le_bytes(b)
}
