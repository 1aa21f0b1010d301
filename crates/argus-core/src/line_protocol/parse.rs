//! The parser. A **line** here is a logical line: it ends at a newline outside a quoted
//! string field, so a string value may span several physical lines, while error positions
//! are physical (the line and byte column an editor shows).
//!
//! The parser is one forward pass over the bytes, with a lookup table saying which bytes end
//! which kind of token. Every byte it stops at is ASCII, so every slice it takes is on a
//! character boundary and names and strings are borrowed from the input; only a token that
//! holds an escape sequence is copied, to remove the backslashes.

use super::{FieldValue, Line};
use std::borrow::Cow;

/// A line that is not valid line protocol, with the position of the first problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based physical line number in the input.
    pub line: usize,
    /// 1-based byte offset within that physical line.
    pub column: usize,
    /// What was expected or what was wrong, naming the token, e.g.
    /// `expected '=' after field key "usage"`.
    pub message: String,
}

/// Parses `input` line by line.
///
/// Blank lines and comment lines (`#` after optional spaces or tabs) are skipped. After a
/// bad line the iterator goes on with the next physical line, so callers choose whether to
/// stop at the first error or collect them all.
pub fn parse(input: &str) -> Lines<'_> {
    Lines {
        src: input,
        pos: 0,
        line_no: 1,
        current: 0,
        tags_hint: 0,
        fields_hint: 0,
    }
}

/// The iterator returned by [`parse`]: one item per non-blank, non-comment line.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    src: &'a str,
    /// Start of the next physical line.
    pos: usize,
    /// 1-based number of the physical line starting at `pos`.
    line_no: usize,
    /// Number of the physical line where the last item returned began.
    current: usize,
    /// Capacities for the next line's vectors: consecutive lines tend to look alike, so
    /// the previous line's counts save the reallocations of growing from empty.
    tags_hint: usize,
    fields_hint: usize,
}

impl Lines<'_> {
    /// The 1-based number of the physical line where the last item returned began (0
    /// before the first): what an error about that line should name.
    pub fn current_line(&self) -> usize {
        self.current
    }

    /// The byte offset where the next line starts: after the last item returned, its
    /// newline included. Unlike a search for `\n`, it knows a newline inside a quoted
    /// string field from a line's end.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<Line<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.src.as_bytes();
        loop {
            let line_start = self.pos;
            if line_start >= b.len() {
                return None;
            }
            let first = skip(b, line_start, |c| c == b' ' || c == b'\t');
            if b.get(first) == Some(&b'#') {
                self.next_physical_line(find_newline(b, first));
                continue;
            }
            let rest = skip(b, first, |c| class(c) & WS != 0);
            if rest >= b.len() || b[rest] == b'\n' {
                self.next_physical_line(find_newline(b, rest));
                continue;
            }
            self.current = self.line_no;

            let mut cursor = Cursor {
                src: self.src,
                b,
                pos: first,
                string_newline: false,
            };
            match cursor.line(self.tags_hint, self.fields_hint) {
                Ok(line) => {
                    // `cursor.pos` is at the newline that ends the line, or at the end.
                    if cursor.string_newline {
                        self.line_no += count_newlines(&b[line_start..cursor.pos]);
                    }
                    self.next_physical_line(Some(cursor.pos).filter(|&p| p < b.len()));
                    // Capped, or one huge line would make every later line reserve as much.
                    self.tags_hint = line.tags.len().min(MAX_HINT);
                    self.fields_hint = line.fields.len().min(MAX_HINT);
                    return Some(Ok(line));
                }
                Err(fail) => {
                    let before = &b[line_start..fail.pos];
                    let newlines = count_newlines(before);
                    let physical_start = before
                        .iter()
                        .rposition(|&c| c == b'\n')
                        .map_or(line_start, |i| line_start + i + 1);
                    let err = ParseError {
                        line: self.line_no + newlines,
                        column: fail.pos - physical_start + 1,
                        message: fail.message,
                    };
                    // Resume after the physical line holding the error. For an unterminated
                    // string that is the line of its opening quote, so one missing quote
                    // costs one line rather than the rest of the input.
                    self.line_no += newlines;
                    self.next_physical_line(find_newline(b, fail.pos));
                    return Some(Err(err));
                }
            }
        }
    }
}

/// The largest capacity reserved up front for a line's tags or fields.
const MAX_HINT: usize = 32;

impl Lines<'_> {
    /// Moves past the newline at `newline`, or to the end of the input if there is none.
    fn next_physical_line(&mut self, newline: Option<usize>) {
        match newline {
            Some(n) => {
                self.pos = n + 1;
                self.line_no += 1;
            }
            None => self.pos = self.src.len(),
        }
    }
}

// Byte classes: which bytes stop the scan of (or may be escaped in) each kind of token. A
// backslash stops the scan of names too, so the scanner can look at the byte after it.
/// Stops a measurement or a tag value.
const NAME_STOP: u8 = 1;
/// Stops a tag key or a field key.
const KEY_STOP: u8 = 2;
/// Ends a number, boolean or timestamp.
const VALUE_STOP: u8 = 4;
/// May follow a backslash in a measurement.
const MEASUREMENT_ESC: u8 = 8;
/// May follow a backslash in a tag key, tag value or field key.
const KEY_ESC: u8 = 16;
/// Whitespace allowed at the end of a line and between the field set and the timestamp.
const WS: u8 = 32;

static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b',' as usize] = NAME_STOP | KEY_STOP | VALUE_STOP | MEASUREMENT_ESC | KEY_ESC;
    t[b' ' as usize] = NAME_STOP | KEY_STOP | VALUE_STOP | MEASUREMENT_ESC | KEY_ESC | WS;
    t[b'=' as usize] = KEY_STOP | KEY_ESC;
    t[b'\\' as usize] = NAME_STOP | KEY_STOP | MEASUREMENT_ESC | KEY_ESC;
    t[b'\n' as usize] = NAME_STOP | KEY_STOP | VALUE_STOP;
    t[b'\t' as usize] = VALUE_STOP | WS;
    t[b'\r' as usize] = VALUE_STOP | WS;
    t
};

#[inline]
fn class(c: u8) -> u8 {
    CLASSES[c as usize]
}

fn skip(b: &[u8], from: usize, f: impl Fn(u8) -> bool) -> usize {
    b[from..]
        .iter()
        .position(|&c| !f(c))
        .map_or(b.len(), |i| from + i)
}

fn find_newline(b: &[u8], from: usize) -> Option<usize> {
    b[from..].iter().position(|&c| c == b'\n').map(|i| from + i)
}

fn count_newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// A parse failure at byte offset `pos` of the input; [`Lines`] turns it into a position.
struct Fail {
    pos: usize,
    message: String,
}

/// Shows a token in a message: quoted and escaped like a Rust string, and cut short so a
/// runaway token does not make a runaway message.
fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    match s.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

struct Cursor<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Whether a string value held a newline, so the caller must count physical lines.
    string_newline: bool,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at_end_of_line(&self) -> bool {
        matches!(self.peek(), None | Some(b'\n'))
    }

    fn fail(&self, pos: usize, message: String) -> Fail {
        Fail { pos, message }
    }

    fn line(&mut self, tags_hint: usize, fields_hint: usize) -> Result<Line<'a>, Fail> {
        let measurement = self.name(NAME_STOP, MEASUREMENT_ESC);
        if measurement.is_empty() {
            // Leading whitespace and blank lines are skipped, so this is a ',' at the start.
            return Err(self.fail(self.pos, "expected a measurement name".into()));
        }

        let mut tags = Vec::with_capacity(tags_hint);
        while self.peek() == Some(b',') {
            self.pos += 1;
            let key_pos = self.pos;
            let key = self.name(KEY_STOP, KEY_ESC);
            if key.is_empty() {
                return Err(self.fail(key_pos, "expected a tag key after ','".into()));
            }
            if self.peek() != Some(b'=') {
                let msg = format!("expected '=' after tag key {}", quote(&key));
                return Err(self.fail(self.pos, msg));
            }
            self.pos += 1;
            let value_pos = self.pos;
            let value = self.name(NAME_STOP, KEY_ESC);
            if value.is_empty() {
                let msg = format!("expected a value for tag {} after '='", quote(&key));
                return Err(self.fail(value_pos, msg));
            }
            tags.push((key, value));
        }

        // Names stop only at ',', ' ' or a newline, so this is ' ' or the end of the line.
        let spaces = skip(self.b, self.pos, |c| c == b' ');
        let after_ws = skip(self.b, spaces, |c| class(c) & WS != 0);
        if spaces == self.pos || after_ws >= self.b.len() || self.b[after_ws] == b'\n' {
            return Err(self.fail(
                self.pos,
                "expected a space and then at least one field (a line needs a field set)".into(),
            ));
        }
        self.pos = spaces;

        let mut fields = Vec::with_capacity(fields_hint);
        loop {
            let key_pos = self.pos;
            let key = self.name(KEY_STOP, KEY_ESC);
            if key.is_empty() {
                return Err(self.fail(key_pos, "expected a field key".into()));
            }
            if self.peek() != Some(b'=') {
                let msg = format!("expected '=' after field key {}", quote(&key));
                return Err(self.fail(self.pos, msg));
            }
            self.pos += 1;
            let value = self.field_value(&key)?;
            fields.push((key, value));
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                break;
            }
        }

        // Every field value ends at ',', whitespace or the end of the line.
        self.pos = skip(self.b, self.pos, |c| class(c) & WS != 0);
        let timestamp = if self.at_end_of_line() {
            None
        } else {
            let ts = self.timestamp()?;
            self.pos = skip(self.b, self.pos, |c| class(c) & WS != 0);
            if !self.at_end_of_line() {
                let end = find_newline(self.b, self.pos).unwrap_or(self.b.len());
                let msg = format!(
                    "unexpected {} after the timestamp: expected the end of the line",
                    quote(self.src[self.pos..end].trim_end())
                );
                return Err(self.fail(self.pos, msg));
            }
            Some(ts)
        };

        Ok(Line {
            measurement,
            tags,
            fields,
            timestamp,
        })
    }

    /// Reads a measurement, key or tag value up to a byte of class `stop`, removing the
    /// backslash of each escape sequence (a backslash before a byte of class `esc`). Any
    /// other backslash is kept as a literal backslash.
    fn name(&mut self, stop: u8, esc: u8) -> Cow<'a, str> {
        let b = self.b;
        let start = self.pos;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = b[i..]
                .iter()
                .position(|&c| class(c) & stop != 0)
                .map_or(b.len(), |n| i + n);
            if i < b.len() && b[i] == b'\\' {
                if b.get(i + 1).is_some_and(|&c| class(c) & esc != 0) {
                    escaped = true;
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            break;
        }
        self.pos = i;
        let raw = &self.src[start..i];
        if escaped {
            Cow::Owned(unescape(raw, |c| class(c) & esc != 0))
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// The end of the number, boolean or timestamp token starting at `from`.
    fn value_end(&self, from: usize) -> usize {
        self.b[from..]
            .iter()
            .position(|&c| class(c) & VALUE_STOP != 0)
            .map_or(self.b.len(), |n| from + n)
    }

    fn field_value(&mut self, key: &str) -> Result<FieldValue<'a>, Fail> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            return self.string(key);
        }
        let end = self.value_end(start);
        let token = &self.src[start..end];
        let value = match token.as_bytes().first() {
            None => Err(format!(
                "expected a value for field {} after '='",
                quote(key)
            )),
            Some(b'0'..=b'9' | b'-' | b'.') => number(token, key),
            Some(b't' | b'T' | b'f' | b'F') => match token {
                "t" | "T" | "true" | "True" | "TRUE" => Ok(FieldValue::Bool(true)),
                "f" | "F" | "false" | "False" | "FALSE" => Ok(FieldValue::Bool(false)),
                _ => Err(invalid_value(token, key)),
            },
            Some(b'+') => Err(format!(
                "invalid value {} for field {}: a number cannot start with '+'",
                quote(token),
                quote(key)
            )),
            Some(_) if is_nan_or_inf(token) => Err(nan_or_inf(token, key)),
            Some(_) => Err(invalid_value(token, key)),
        };
        match value {
            Ok(v) => {
                self.pos = end;
                Ok(v)
            }
            Err(message) => Err(self.fail(start, message)),
        }
    }

    /// Reads a double-quoted string starting at the opening quote. Inside it `\"` and `\\`
    /// are escapes, any other backslash is literal, and newlines are content.
    fn string(&mut self, key: &str) -> Result<FieldValue<'a>, Fail> {
        let b = self.b;
        let open = self.pos;
        let start = open + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match b.get(i) {
                // This scans to the end of the input, yet parsing resumes on the next line:
                // that costs no second scan, because any later string's opening quote
                // follows an unescaped `=` and so would have ended this one.
                None => {
                    let msg = format!(
                        "unterminated string value for field {}: expected a closing '\"'",
                        quote(key)
                    );
                    return Err(self.fail(open, msg));
                }
                Some(b'"') => break,
                Some(b'\\') if matches!(b.get(i + 1), Some(b'"' | b'\\')) => {
                    escaped = true;
                    i += 2;
                }
                Some(b'\n') => {
                    self.string_newline = true;
                    i += 1;
                }
                Some(_) => i += 1,
            }
        }
        let raw = &self.src[start..i];
        self.pos = i + 1;
        if self.peek().is_some_and(|c| class(c) & VALUE_STOP == 0) {
            let msg = format!(
                "expected ',' or ' ' after the string value of field {}",
                quote(key)
            );
            return Err(self.fail(self.pos, msg));
        }
        Ok(FieldValue::Str(if escaped {
            Cow::Owned(unescape(raw, |c| c == b'"' || c == b'\\'))
        } else {
            Cow::Borrowed(raw)
        }))
    }

    fn timestamp(&mut self) -> Result<i64, Fail> {
        let start = self.pos;
        let end = self.value_end(start);
        let token = &self.src[start..end];
        match parse_int(token.as_bytes()) {
            Ok(ts) => {
                self.pos = end;
                Ok(ts)
            }
            Err(IntError::Syntax) => {
                let hint = if token.contains('=') {
                    " (fields are separated by ',', not ' ')"
                } else {
                    ""
                };
                let msg = format!(
                    "invalid timestamp {}: expected an integer{hint}",
                    quote(token)
                );
                Err(self.fail(start, msg))
            }
            Err(IntError::Range) => {
                let msg = format!(
                    "timestamp {} is out of range for a 64-bit signed integer",
                    quote(token)
                );
                Err(self.fail(start, msg))
            }
        }
    }
}

/// Copies `raw` without the backslash of each escape sequence (a backslash followed by a
/// byte for which `is_escapable` holds), scanning left to right as the tokenizer did.
fn unescape(raw: &str, is_escapable: impl Fn(u8) -> bool) -> String {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1).is_some_and(|&c| is_escapable(c)) {
            out.push_str(&raw[copied..i]);
            copied = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push_str(&raw[copied..]);
    out
}

fn invalid_value(token: &str, key: &str) -> String {
    format!(
        "invalid value {} for field {}: expected a number, a boolean (t, T, true, True, TRUE, \
         f, F, false, False, FALSE) or a double-quoted string",
        quote(token),
        quote(key)
    )
}

fn is_nan_or_inf(token: &str) -> bool {
    let t = token.strip_prefix('-').unwrap_or(token);
    ["nan", "inf", "infinity"]
        .iter()
        .any(|s| t.eq_ignore_ascii_case(s))
}

fn nan_or_inf(token: &str, key: &str) -> String {
    format!(
        "invalid value {} for field {}: NaN and infinity are not valid in line protocol",
        quote(token),
        quote(key)
    )
}

/// Parses a token that starts like a number: `-?digits` with an `i` or `u` suffix, or a
/// float (`1`, `-1.5`, `1.`, `.5`, `1e10`, `1E-5`).
fn number<'a>(token: &str, key: &str) -> Result<FieldValue<'a>, String> {
    let b = token.as_bytes();
    match b.last() {
        Some(b'i') => match parse_int(&b[..b.len() - 1]) {
            Ok(v) => Ok(FieldValue::Int(v)),
            Err(IntError::Range) => Err(format!(
                "integer {} for field {} is out of range ({}i to {}i)",
                quote(token),
                quote(key),
                i64::MIN,
                i64::MAX
            )),
            Err(IntError::Syntax) => Err(invalid_number(token, key)),
        },
        Some(b'u') => {
            if b.first() == Some(&b'-') {
                return Err(format!(
                    "unsigned integer {} for field {} cannot be negative",
                    quote(token),
                    quote(key)
                ));
            }
            match parse_uint(&b[..b.len() - 1]) {
                Ok(v) => Ok(FieldValue::UInt(v)),
                Err(IntError::Range) => Err(format!(
                    "unsigned integer {} for field {} is out of range (0u to {}u)",
                    quote(token),
                    quote(key),
                    u64::MAX
                )),
                Err(IntError::Syntax) => Err(invalid_number(token, key)),
            }
        }
        _ if is_float(b) => match token.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(FieldValue::Float(v)),
            _ => Err(format!(
                "float {} for field {} is out of range",
                quote(token),
                quote(key)
            )),
        },
        _ if is_nan_or_inf(token) => Err(nan_or_inf(token, key)),
        _ => Err(invalid_number(token, key)),
    }
}

fn invalid_number(token: &str, key: &str) -> String {
    format!(
        "invalid number {} for field {}: expected a float (1.5, -2, 1e-3), an integer (1i) \
         or an unsigned integer (1u)",
        quote(token),
        quote(key)
    )
}

/// Whether `b` is `-?(digits(.digits*)?|.digits)([eE][+-]?digits)?`, the float syntax
/// Influx accepts. Checked here because `str::parse::<f64>` also takes `+1`, `inf` and `NaN`.
fn is_float(b: &[u8]) -> bool {
    let digits = |from: usize| skip(b, from, |c| c.is_ascii_digit()) - from;
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_digits = digits(i);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = digits(i);
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = digits(i);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

enum IntError {
    Syntax,
    Range,
}

/// Parses `-?[0-9]+` (no `+`, unlike `str::parse`), telling bad syntax from overflow.
fn parse_int(b: &[u8]) -> Result<i64, IntError> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(IntError::Syntax);
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = i64::from(c - b'0');
        // Accumulating negative values reaches i64::MIN, which has no positive twin.
        v = v
            .checked_mul(10)
            .and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
            .ok_or(IntError::Range)?;
    }
    Ok(v)
}

fn parse_uint(b: &[u8]) -> Result<u64, IntError> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return Err(IntError::Syntax);
    }
    let mut v: u64 = 0;
    for &c in b {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(IntError::Range)?;
    }
    Ok(v)
}
