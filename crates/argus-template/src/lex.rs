//! The lexer: template text into **items**, Go `text/template/parse/lex.go`'s vocabulary.
//!
//! Outside actions everything is text. An **action** runs from `{{` to `}}`; inside it
//! spaces are items of their own, because Go's grammar uses them to tell `$x foo` (an
//! argument) from `$x := foo` (a declaration). Trim markers (`{{- ` and ` -}}`) remove the
//! white space of the neighbouring text, comments (`{{/* … */}}`) vanish.

/// What an item is. Keywords are separate kinds so the parser can match on them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Identifier,
    Field,
    Dot,
    Variable,
    String,
    RawString,
    Number,
    CharConstant,
    Bool,
    Nil,
    Pipe,
    LeftParen,
    RightParen,
    Char,
    Assign,
    Declare,
    Eof,
    // Keywords.
    Block,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

/// One item: its kind, its text, its byte offset in the template and its line.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub kind: Kind,
    pub val: String,
    pub pos: usize,
    pub line: usize,
}

impl std::fmt::Display for Item {
    /// As Go prints a token in "unexpected …" messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Block
            | Kind::Define
            | Kind::Else
            | Kind::End
            | Kind::If
            | Kind::Range
            | Kind::Template
            | Kind::With => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                let q = crate::gofmt::quote(&head);
                write!(f, "{}...", q)
            }
            _ => f.write_str(&crate::gofmt::quote(&self.val)),
        }
    }
}

/// A lexing error: the message and the line it is on.
#[derive(Debug)]
pub(crate) struct LexError {
    pub msg: String,
    pub line: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Go's `%#U`: `U+00A0`, with the character quoted after it when it is printable.
pub(crate) fn unicode_repr(c: char) -> String {
    if c.is_whitespace() || c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{}'", c as u32, c)
    }
}

/// Splits `text` into items, ending with `Eof`.
pub(crate) fn lex(text: &str) -> Result<Vec<Item>, LexError> {
    let mut l = Lexer {
        src: text,
        pos: 0,
        line: 1,
        items: Vec::new(),
        trim_next_text: false,
    };
    l.run()?;
    Ok(l.items)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    items: Vec<Item>,
    /// The previous action ended with ` -}}`: the next text loses its leading space.
    trim_next_text: bool,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn emit(&mut self, kind: Kind, start: usize, line: usize) {
        self.items.push(Item {
            kind,
            val: self.src[start..self.pos].to_string(),
            pos: start,
            line,
        });
    }

    fn advance(&mut self, n: usize) {
        self.line += self.src[self.pos..self.pos + n].matches('\n').count();
        self.pos += n;
    }

    fn err(&self, msg: impl Into<String>) -> LexError {
        LexError {
            msg: msg.into(),
            line: self.line,
        }
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            // Text up to the next action.
            let start = self.pos;
            let line = self.line;
            let end = self
                .rest()
                .find("{{")
                .map_or(self.src.len(), |i| self.pos + i);
            let mut text_start = start;
            if self.trim_next_text {
                while text_start < end && self.src[text_start..].starts_with(|c: char| is_space(c))
                {
                    text_start += 1;
                }
                self.trim_next_text = false;
            }
            let left_trim = end < self.src.len()
                && self.src[end + 2..].starts_with('-')
                && self.src[end + 3..].starts_with(is_space);
            let mut text_end = end;
            if left_trim {
                while text_end > text_start && self.src[..text_end].ends_with(is_space) {
                    text_end -= 1;
                }
            }
            if text_end > text_start {
                let text_line = line + self.src[start..text_start].matches('\n').count();
                self.items.push(Item {
                    kind: Kind::Text,
                    val: self.src[text_start..text_end].to_string(),
                    pos: text_start,
                    line: text_line,
                });
            }
            self.advance(end - self.pos);
            if self.pos >= self.src.len() {
                self.items.push(Item {
                    kind: Kind::Eof,
                    val: String::new(),
                    pos: self.pos,
                    line: self.line,
                });
                return Ok(());
            }
            self.lex_action(left_trim)?;
        }
    }

    /// From `{{` to the end of the action.
    fn lex_action(&mut self, left_trim: bool) -> Result<(), LexError> {
        let start = self.pos;
        let line = self.line;
        self.advance(2);
        if left_trim {
            self.advance(2);
        }
        // A comment is the whole action.
        if self.rest().starts_with("/*") {
            let Some(i) = self.rest().find("*/") else {
                return Err(self.err("unclosed comment"));
            };
            self.advance(i + 2);
            let rest = self.rest();
            if rest.starts_with(" -}}") {
                self.advance(4);
                self.trim_next_text = true;
            } else if rest.starts_with("}}") {
                self.advance(2);
            } else {
                return Err(self.err("comment ends before closing delimiter"));
            }
            return Ok(());
        }
        self.items.push(Item {
            kind: Kind::LeftDelim,
            val: "{{".into(),
            pos: start,
            line,
        });
        let mut paren_depth = 0i32;
        loop {
            let rest = self.rest();
            if rest.starts_with(" -}}") {
                let s = self.pos + 2;
                self.advance(4);
                self.items.push(Item {
                    kind: Kind::RightDelim,
                    val: "}}".into(),
                    pos: s,
                    line: self.line,
                });
                self.trim_next_text = true;
                return Ok(());
            }
            if rest.starts_with("}}") {
                let s = self.pos;
                self.advance(2);
                self.emit(Kind::RightDelim, s, self.line);
                return Ok(());
            }
            let Some(c) = self.peek() else {
                return Err(self.err("unclosed action"));
            };
            let s = self.pos;
            let line = self.line;
            match c {
                c if is_space(c) => {
                    // A run of spaces, leaving the space of a ` -}}` trim marker.
                    while let Some(c) = self.peek() {
                        if !is_space(c) || self.rest().starts_with(" -}}") {
                            break;
                        }
                        self.advance(c.len_utf8());
                    }
                    if self.pos > s {
                        self.emit(Kind::Space, s, line);
                    }
                }
                '=' => {
                    self.advance(1);
                    self.emit(Kind::Assign, s, line);
                }
                ':' => {
                    if !self.rest().starts_with(":=") {
                        return Err(self.err("expected :="));
                    }
                    self.advance(2);
                    self.emit(Kind::Declare, s, line);
                }
                '|' => {
                    self.advance(1);
                    self.emit(Kind::Pipe, s, line);
                }
                '"' => {
                    self.advance(1);
                    loop {
                        match self.peek() {
                            Some('\\') => {
                                self.advance(1);
                                match self.peek() {
                                    Some('\n') | None => {
                                        return Err(self.err("unterminated quoted string"));
                                    }
                                    Some(c) => self.advance(c.len_utf8()),
                                }
                            }
                            Some('\n') | None => {
                                return Err(self.err("unterminated quoted string"));
                            }
                            Some('"') => {
                                self.advance(1);
                                break;
                            }
                            Some(c) => self.advance(c.len_utf8()),
                        }
                    }
                    self.emit(Kind::String, s, line);
                }
                '`' => {
                    self.advance(1);
                    let Some(i) = self.rest().find('`') else {
                        return Err(self.err("unterminated raw quoted string"));
                    };
                    self.advance(i + 1);
                    self.emit(Kind::RawString, s, line);
                }
                '\'' => {
                    self.advance(1);
                    loop {
                        match self.peek() {
                            Some('\\') => {
                                self.advance(1);
                                if let Some(c) = self.peek() {
                                    self.advance(c.len_utf8());
                                }
                            }
                            Some('\n') | None => {
                                return Err(self.err("unterminated character constant"));
                            }
                            Some('\'') => {
                                self.advance(1);
                                break;
                            }
                            Some(c) => self.advance(c.len_utf8()),
                        }
                    }
                    self.emit(Kind::CharConstant, s, line);
                }
                '$' => {
                    self.advance(1);
                    self.scan_alnum();
                    self.check_terminator()?;
                    self.emit(Kind::Variable, s, line);
                }
                '.' => {
                    if self.rest()[1..].starts_with(|c: char| c.is_ascii_digit()) {
                        self.lex_number()?;
                        self.emit(Kind::Number, s, line);
                    } else {
                        self.advance(1);
                        if self.peek().is_some_and(is_alnum) {
                            self.scan_alnum();
                            self.check_terminator()?;
                            self.emit(Kind::Field, s, line);
                        } else {
                            self.emit(Kind::Dot, s, line);
                        }
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.lex_number()?;
                    self.emit(Kind::Number, s, line);
                }
                '(' => {
                    self.advance(1);
                    paren_depth += 1;
                    self.emit(Kind::LeftParen, s, line);
                }
                ')' => {
                    self.advance(1);
                    paren_depth -= 1;
                    if paren_depth < 0 {
                        return Err(self.err("unexpected right paren"));
                    }
                    self.emit(Kind::RightParen, s, line);
                }
                c if is_alnum(c) => {
                    self.scan_alnum();
                    self.check_terminator()?;
                    let kind = match &self.src[s..self.pos] {
                        "block" => Kind::Block,
                        "define" => Kind::Define,
                        "else" => Kind::Else,
                        "end" => Kind::End,
                        "if" => Kind::If,
                        "range" => Kind::Range,
                        "template" => Kind::Template,
                        "with" => Kind::With,
                        "nil" => Kind::Nil,
                        "true" | "false" => Kind::Bool,
                        _ => Kind::Identifier,
                    };
                    self.emit(kind, s, line);
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.advance(1);
                    self.emit(Kind::Char, s, line);
                }
                c => {
                    return Err(self.err(format!(
                        "unrecognized character in action: {}",
                        unicode_repr(c)
                    )));
                }
            }
        }
    }

    fn scan_alnum(&mut self) {
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.advance(c.len_utf8());
        }
    }

    /// Go requires a word to end at a space, a delimiter or punctuation that can follow it.
    fn check_terminator(&self) -> Result<(), LexError> {
        let rest = self.rest();
        match rest.chars().next() {
            None => Ok(()),
            Some(c) if is_space(c) => Ok(()),
            Some('.' | ',' | '|' | ':' | ')' | '(') => Ok(()),
            Some(_) if rest.starts_with("}}") => Ok(()),
            Some(c) => Err(self.err(format!("bad character {}", unicode_repr(c)))),
        }
    }

    /// A number as Go's scanner accepts it: sign, decimal or hex digits, fraction,
    /// exponent. Whether it is a valid number is decided when it is parsed.
    fn lex_number(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        if self.rest().starts_with(['+', '-']) {
            self.advance(1);
        }
        let hex = self.rest().starts_with("0x") || self.rest().starts_with("0X");
        if hex {
            self.advance(2);
        }
        let digit = |c: char| {
            if hex {
                c.is_ascii_hexdigit() || c == '_'
            } else {
                c.is_ascii_digit() || c == '_'
            }
        };
        while self.peek().is_some_and(digit) {
            self.advance(1);
        }
        if self.peek() == Some('.') {
            self.advance(1);
            while self.peek().is_some_and(digit) {
                self.advance(1);
            }
        }
        let exp = if hex { ['p', 'P'] } else { ['e', 'E'] };
        if self.peek().is_some_and(|c| exp.contains(&c)) {
            self.advance(1);
            if self.rest().starts_with(['+', '-']) {
                self.advance(1);
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
                self.advance(1);
            }
        }
        if self.peek() == Some('i') {
            self.advance(1);
        }
        if self.peek().is_some_and(is_alnum) {
            self.advance(self.peek().map_or(0, char::len_utf8));
            return Err(self.err(format!(
                "bad number syntax: {:?}",
                &self.src[start..self.pos]
            )));
        }
        Ok(())
    }
}
