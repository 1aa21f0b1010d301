//! The parser: items into a tree of nodes, by Go `text/template/parse/parse.go`'s grammar.
//!
//! A **pipeline** is optional variable declarations and commands joined by `|`; a
//! **command** is operands separated by spaces, the first naming what runs (a function, a
//! field, a variable or a parenthesised pipeline). Functions are checked while parsing
//! and variables must be declared before use, as in Go, so a rule file with a misspelt
//! function is rejected when it loads rather than when an alert fires.

use super::lex::{Item, Kind, LexError, lex};
use super::value::Value;
use std::collections::HashMap;

/// A node of the template tree. Positions are byte offsets into the template text.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action {
        pipe: Pipe,
    },
    If {
        pipe: Pipe,
        list: Vec<Node>,
        else_list: Option<Vec<Node>>,
    },
    Range {
        pipe: Pipe,
        list: Vec<Node>,
        else_list: Option<Vec<Node>>,
    },
    With {
        pipe: Pipe,
        list: Vec<Node>,
        else_list: Option<Vec<Node>>,
    },
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
}

/// `$x := cmd | cmd`.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

/// Operands separated by spaces.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// One operand.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `.A.B`
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    /// `$x.A.B`: `idents[0]` is the variable, with its `$`.
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        val: bool,
    },
    /// A number constant, kept as Go's ideal constant: an `int` unless it is written
    /// with a point or an exponent.
    Number {
        pos: usize,
        text: String,
        val: Value,
    },
    String {
        pos: usize,
        quoted: String,
        val: String,
    },
    Ident {
        pos: usize,
        name: String,
    },
    Pipe {
        pos: usize,
        pipe: Box<Pipe>,
    },
    /// `(pipeline).A.B`
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Ident { pos, .. }
            | Arg::Pipe { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
        }
    }
}

impl std::fmt::Display for Arg {
    /// The node as Go's `String()` writes it, for error contexts (`at <humanize "one">`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => f.write_str(&idents.join(".")),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool { val, .. } => write!(f, "{val}"),
            Arg::Number { text, .. } => f.write_str(text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Ident { name, .. } => f.write_str(name),
            Arg::Pipe { pipe, .. } => write!(f, "({pipe})"),
            Arg::Chain { node, fields, .. } => {
                match node.as_ref() {
                    Arg::Pipe { pipe, .. } => write!(f, "({pipe})")?,
                    other => write!(f, "{other}")?,
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parsed template: its main list and the templates it `define`s.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub root: Vec<Node>,
    pub defs: HashMap<String, Vec<Node>>,
}

/// What ends an item list: `{{end}}`, `{{else}}`, or `{{else if …}}` (the `if` left
/// for the caller to parse).
enum ListEnd {
    End,
    Else,
    ElseIf,
}

/// Parses `text`; `name` goes into error messages as Go's `template: NAME:LINE: …`;
/// `has_func` says which function names exist.
pub(crate) fn parse(
    name: &str,
    text: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Tree, String> {
    let items =
        lex(text).map_err(|LexError { msg, line }| format!("template: {name}:{line}: {msg}"))?;
    let mut p = Parser {
        name,
        items,
        i: 0,
        vars: vec!["$".to_string()],
        has_func,
        defs: HashMap::new(),
    };
    let root = p.parse_top()?;
    Ok(Tree { root, defs: p.defs })
}

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    i: usize,
    vars: Vec<String>,
    has_func: &'a dyn Fn(&str) -> bool,
    defs: HashMap<String, Vec<Node>>,
}

type PResult<T> = Result<T, String>;

impl Parser<'_> {
    fn peek(&self) -> &Item {
        let i = self.i.min(self.items.len() - 1);
        &self.items[i]
    }

    fn next(&mut self) -> Item {
        let it = self.peek().clone();
        if self.i < self.items.len() - 1 {
            self.i += 1;
        }
        it
    }

    fn skip_space(&mut self) {
        while self.peek().kind == Kind::Space {
            self.i += 1;
        }
    }

    fn next_non_space(&mut self) -> Item {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> Item {
        self.skip_space();
        self.peek().clone()
    }

    /// `template: NAME:LINE: msg`, at the line of the last item read.
    fn errorf(&self, msg: impl std::fmt::Display) -> String {
        let line = self.items[self.i.saturating_sub(1).min(self.items.len() - 1)].line;
        format!("template: {}:{}: {}", self.name, line, msg)
    }

    fn unexpected(&self, item: &Item, context: &str) -> String {
        self.errorf(format_args!("unexpected {item} in {context}"))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Item> {
        let it = self.next_non_space();
        if it.kind != kind {
            return Err(self.unexpected(&it, context));
        }
        Ok(it)
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            let it = self.peek().clone();
            match it.kind {
                Kind::Eof => return Ok(list),
                Kind::Text => {
                    self.next();
                    list.push(Node::Text(it.val));
                }
                Kind::LeftDelim => {
                    self.next();
                    if self.peek_non_space().kind == Kind::Define {
                        self.next_non_space();
                        self.parse_definition()?;
                        continue;
                    }
                    match self.action()? {
                        Ok(n) => list.push(n),
                        Err(ListEnd::End) => return Err(self.errorf("unexpected {{end}}")),
                        Err(_) => return Err(self.errorf("unexpected {{else}}")),
                    }
                }
                _ => return Err(self.unexpected(&it, "input")),
            }
        }
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let it = self.next_non_space();
        let name = match it.kind {
            Kind::String | Kind::RawString => {
                unquote(&it.val).ok_or_else(|| self.errorf("invalid syntax"))?
            }
            _ => return Err(self.unexpected(&it, context)),
        };
        self.expect(Kind::RightDelim, context)?;
        self.define(name, context)
    }

    /// The body of a `define` or `block` up to its `{{end}}`, kept as the template `name`.
    fn define(&mut self, name: String, context: &str) -> PResult<()> {
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if !matches!(end, ListEnd::End) {
            return Err(self.errorf(format_args!("unexpected {{{{else}}}} in {context}")));
        }
        if self.defs.contains_key(&name) && !list.iter().all(is_blank) {
            return Err(self.errorf(format_args!(
                "template: multiple definition of template {}",
                crate::gofmt::quote(&name)
            )));
        }
        self.defs.insert(name, list);
        Ok(())
    }

    /// Text and actions up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, ListEnd)> {
        let mut list = Vec::new();
        loop {
            let it = self.peek_non_space();
            match it.kind {
                Kind::Eof => return Err(self.errorf("unexpected EOF")),
                Kind::Text => {
                    self.next();
                    list.push(Node::Text(it.val));
                }
                Kind::LeftDelim => {
                    self.next();
                    match self.action()? {
                        Ok(n) => list.push(n),
                        Err(end) => return Ok((list, end)),
                    }
                }
                _ => return Err(self.unexpected(&it, "input")),
            }
        }
    }

    /// After `{{`: a control structure or a pipeline; `Err` for `end`/`else`.
    fn action(&mut self) -> PResult<Result<Node, ListEnd>> {
        let it = self.next_non_space();
        match it.kind {
            Kind::Else => {
                if self.peek_non_space().kind == Kind::If {
                    return Ok(Err(ListEnd::ElseIf));
                }
                self.expect(Kind::RightDelim, "else")?;
                return Ok(Err(ListEnd::Else));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Err(ListEnd::End));
            }
            Kind::If => {
                return self.control("if", true).map(|(pipe, list, else_list)| {
                    Ok(Node::If {
                        pipe,
                        list,
                        else_list,
                    })
                });
            }
            Kind::Range => {
                return self.control("range", false).map(|(pipe, list, else_list)| {
                    Ok(Node::Range {
                        pipe,
                        list,
                        else_list,
                    })
                });
            }
            Kind::With => {
                return self.control("with", false).map(|(pipe, list, else_list)| {
                    Ok(Node::With {
                        pipe,
                        list,
                        else_list,
                    })
                });
            }
            Kind::Template => {
                let context = "template clause";
                let tok = self.next_non_space();
                let name = match tok.kind {
                    Kind::String | Kind::RawString => {
                        unquote(&tok.val).ok_or_else(|| self.errorf("invalid syntax"))?
                    }
                    _ => return Err(self.unexpected(&tok, context)),
                };
                let pipe = if self.peek_non_space().kind == Kind::RightDelim {
                    self.next();
                    None
                } else {
                    Some(self.pipeline(context)?)
                };
                return Ok(Ok(Node::Template {
                    pos: tok.pos,
                    name,
                    pipe,
                }));
            }
            Kind::Block => {
                // `{{block "name" pipeline}}…{{end}}`: a definition, executed in place.
                let context = "block clause";
                let tok = self.next_non_space();
                let name = match tok.kind {
                    Kind::String | Kind::RawString => {
                        unquote(&tok.val).ok_or_else(|| self.errorf("invalid syntax"))?
                    }
                    _ => return Err(self.unexpected(&tok, context)),
                };
                let pipe = self.pipeline(context)?;
                self.define(name.clone(), context)?;
                return Ok(Ok(Node::Template {
                    pos: tok.pos,
                    name,
                    pipe: Some(pipe),
                }));
            }
            Kind::Define => {
                return Err(self.errorf(format_args!("unexpected {it} in command")));
            }
            _ => {}
        }
        self.i -= 1;
        Ok(Ok(Node::Action {
            pipe: self.pipeline("command")?,
        }))
    }

    #[allow(clippy::type_complexity)]
    fn control(
        &mut self,
        context: &str,
        allow_else_if: bool,
    ) -> PResult<(Pipe, Vec<Node>, Option<Vec<Node>>)> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context)?;
        let (list, end) = self.item_list()?;
        let else_list = match end {
            ListEnd::End => None,
            ListEnd::ElseIf if allow_else_if => {
                self.next_non_space(); // the `if`
                let (p, l, e) = self.control("if", true)?;
                Some(vec![Node::If {
                    pipe: p,
                    list: l,
                    else_list: e,
                }])
            }
            ListEnd::ElseIf | ListEnd::Else => {
                if matches!(end, ListEnd::ElseIf) {
                    // `else if` is only for `if`: Go reads it as `else` then a stray `if`.
                    return Err(self.errorf("unexpected <if> in else"));
                }
                let (l, e) = self.item_list()?;
                if !matches!(e, ListEnd::End) {
                    return Err(self.errorf("expected end; found {{else}}"));
                }
                Some(l)
            }
        };
        self.vars.truncate(mark);
        Ok((pipe, list, else_list))
    }

    fn pipeline(&mut self, context: &str) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, or `$i, $e :=` in a range.
        loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let save = self.i;
            self.next();
            let after = self.peek_non_space();
            match after.kind {
                Kind::Declare | Kind::Assign => {
                    self.next_non_space();
                    pipe.is_assign = after.kind == Kind::Assign;
                    if pipe.is_assign && !self.vars.contains(&v.val) {
                        return Err(self.errorf(format_args!("undefined variable {:?}", v.val)));
                    }
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                Kind::Char if after.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format_args!("too many declarations in {context}")));
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        loop {
            let it = self.next_non_space();
            match it.kind {
                Kind::RightDelim | Kind::RightParen => {
                    if pipe.cmds.is_empty() {
                        return Err(self.errorf(format_args!("missing value for {context}")));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args[0],
                            Arg::Bool { .. }
                                | Arg::Dot { .. }
                                | Arg::Nil { .. }
                                | Arg::Number { .. }
                                | Arg::String { .. }
                        ) {
                            return Err(self.errorf(format_args!(
                                "non executable command in pipeline stage {}",
                                i + 1
                            )));
                        }
                    }
                    if it.kind == Kind::RightParen {
                        self.i -= 1;
                    }
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConstant
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.i -= 1;
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(&it, context)),
            }
        }
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.skip_space();
            if let Some(a) = self.operand()? {
                cmd.args.push(a);
            }
            let it = self.next();
            match it.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.i -= 1,
                Kind::Pipe => {}
                _ => return Err(self.unexpected(&it, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        // Go places a chain (`.A.B`, `$x.B`, `(p).B`) at its first chained field.
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match term {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.errorf(format_args!(
                    "unexpected . after term {:?}",
                    term.to_string()
                )));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let it = self.next_non_space();
        let pos = it.pos;
        Ok(Some(match it.kind {
            Kind::Identifier => {
                if !(self.has_func)(&it.val) {
                    return Err(self.errorf(format_args!("function {:?} not defined", it.val)));
                }
                Arg::Ident { pos, name: it.val }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                if !self.vars.contains(&it.val) {
                    return Err(self.errorf(format_args!("undefined variable {:?}", it.val)));
                }
                Arg::Variable {
                    pos,
                    idents: vec![it.val],
                }
            }
            Kind::Field => Arg::Field {
                pos,
                idents: vec![it.val[1..].to_string()],
            },
            Kind::Bool => Arg::Bool {
                pos,
                val: it.val == "true",
            },
            Kind::Number | Kind::CharConstant => {
                let val = number(&it.val, it.kind == Kind::CharConstant).ok_or_else(|| {
                    self.errorf(format_args!("illegal number syntax: {:?}", it.val))
                })?;
                Arg::Number {
                    pos,
                    text: it.val,
                    val,
                }
            }
            Kind::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline")?;
                let close = self.next();
                if close.kind != Kind::RightParen {
                    return Err(
                        self.errorf(format_args!("unclosed right paren: unexpected {close}"))
                    );
                }
                Arg::Pipe {
                    pos,
                    pipe: Box::new(pipe),
                }
            }
            Kind::String | Kind::RawString => {
                let val = unquote(&it.val).ok_or_else(|| self.errorf("invalid syntax"))?;
                Arg::String {
                    pos,
                    quoted: it.val,
                    val,
                }
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }
}

/// Every `{{template "name"}}` in `nodes`, nested ones included: its position and name.
pub(crate) fn template_calls<'a>(nodes: &'a [Node], out: &mut Vec<(usize, &'a str)>) {
    for n in nodes {
        match n {
            Node::Text(_) | Node::Action { .. } => {}
            Node::Template { pos, name, .. } => out.push((*pos, name)),
            Node::If {
                list, else_list, ..
            }
            | Node::Range {
                list, else_list, ..
            }
            | Node::With {
                list, else_list, ..
            } => {
                template_calls(list, out);
                if let Some(e) = else_list {
                    template_calls(e, out);
                }
            }
        }
    }
}

pub(crate) fn is_blank(n: &Node) -> bool {
    matches!(n, Node::Text(t) if t.trim().is_empty())
}

/// A number constant as Go's template parser types it: an `int` when it is an integer
/// written without a point or exponent, else a `float64`. Character constants are ints.
fn number(text: &str, is_char: bool) -> Option<Value> {
    if is_char {
        let s = unquote_char(text)?;
        return Some(Value::Int(s as i64));
    }
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X"))
        && !hex.contains(['.', 'p', 'P'])
    {
        let v = i64::from_str_radix(hex, 16).ok()?;
        return Some(Value::Int(if neg { -v } else { v }));
    }
    if body.contains(['.', 'e', 'E']) {
        let v: f64 = body.parse().ok()?;
        return Some(Value::Float(if neg { -v } else { v }));
    }
    // A leading zero makes Go read the integer as octal.
    let v = if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(body.trim_start_matches("0o"), 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(Value::Int(if neg { -v } else { v }))
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` strings.
pub(crate) fn unquote(s: &str) -> Option<String> {
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Some(raw.replace('\r', ""));
    }
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => return None,
            'x' => {
                let h: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
            }
            'u' => {
                let h: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            'U' => {
                let h: String = chars.by_ref().take(8).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            d @ '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{d}{rest}"), 8).ok()?;
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

fn unquote_char(s: &str) -> Option<char> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    if inner == "\\'" {
        return Some('\'');
    }
    if inner.starts_with('\\') {
        return unquote(&format!("\"{inner}\""))?.chars().next();
    }
    let mut c = inner.chars();
    let ch = c.next()?;
    c.next().is_none().then_some(ch)
}
