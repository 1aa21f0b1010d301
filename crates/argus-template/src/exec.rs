//! The executor: walks a parsed tree over a [`Value`] and writes the output, as Go's
//! `text/template/exec.go` does with `missingkey=zero`.
//!
//! **Dot** is the current value (`.`), set by `range` and `with`; **variables** live on a
//! stack that control structures cut back when they end. An execution error stops the
//! template and names where it happened as Go does:
//! `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.

use super::funcs::{self, Param};
use super::parse::{Arg, Command, Node, Pipe, Tree};
use super::value::Value;
use super::{Context, Set, methods};

/// Go's limit on nested `template` calls, which stops runaway recursion.
const MAX_DEPTH: usize = 10_000;

pub(crate) struct State<'a> {
    /// The name of the text being executed (the template's, or the file a definition of
    /// the set came from), as errors print it: `template: NAME:LINE:COL`.
    pub name: &'a str,
    /// That text, for an error's line and column.
    pub text: &'a str,
    /// The template executing (`executing "NAME"`): the root's name, or a definition's.
    pub exec_name: &'a str,
    /// The template's own name and text, for its own definitions.
    pub root_name: &'a str,
    pub root_text: &'a str,
    pub tree: &'a Tree,
    /// Definitions shared with other templates (Alertmanager's template files).
    pub set: Option<&'a Set>,
    /// html/template's escaping of every action's output (an email's HTML body).
    pub html: bool,
    pub ctx: &'a Context<'a>,
    pub vars: Vec<(String, Value)>,
    pub out: String,
    pub depth: usize,
}

type R<T> = Result<T, String>;

/// The line (from 1) and column (byte offset in the line, from 0) of byte `pos` of
/// `text`, as Go's `ErrorContext` gives them.
pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = 1 + before.matches('\n').count();
    let col = match before.rfind('\n') {
        Some(i) => pos - (i + 1),
        None => pos,
    };
    (line, col)
}

impl<'a> State<'a> {
    /// `template: NAME:LINE:COL: executing "NAME" at <CTX>: msg`.
    fn error_at(&self, pos: usize, context: &str, msg: impl std::fmt::Display) -> String {
        let (line, col) = line_col(self.text, pos);
        format!(
            "template: {}:{}:{}: executing {} at <{}>: {}",
            self.name,
            line,
            col,
            crate::gofmt::quote(self.exec_name),
            context,
            msg
        )
    }

    pub fn walk_list(&mut self, dot: &Value, list: &'a [Node]) -> R<()> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> R<()> {
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                Ok(())
            }
            Node::Action { pipe } => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print(&v);
                }
                Ok(())
            }
            Node::If {
                pipe,
                list,
                else_list,
            }
            | Node::With {
                pipe,
                list,
                else_list,
            } => {
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, pipe)?;
                let r = if v.truth() {
                    let d = if matches!(node, Node::With { .. }) {
                        v
                    } else {
                        dot.clone()
                    };
                    self.walk_list(&d, list)
                } else if let Some(e) = else_list {
                    self.walk_list(dot, e)
                } else {
                    Ok(())
                };
                self.vars.truncate(mark);
                r
            }
            Node::Range {
                pipe,
                list,
                else_list,
            } => {
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, pipe)?;
                // The declared variables are set per element, not to the whole value.
                self.vars.truncate(mark);
                let items: Vec<(Value, Value)> = match &v {
                    Value::List(_) | Value::Alerts(_) | Value::Pairs(_) => v
                        .as_list()
                        .unwrap_or_default()
                        .into_iter()
                        .enumerate()
                        .map(|(i, e)| (Value::Int(i as i64), e))
                        .collect(),
                    Value::Map(m) => m
                        .iter()
                        .map(|(k, e)| (Value::String(k.clone()), e.clone()))
                        .collect(),
                    Value::StrMap(m) | Value::Kv(m) => m
                        .iter()
                        .map(|(k, e)| (Value::String(k.clone()), Value::String(e.clone())))
                        .collect(),
                    Value::Nil => Vec::new(),
                    other => {
                        return Err(self.error_at(
                            pipe.pos,
                            &pipe.to_string(),
                            format_args!("range can't iterate over {}", other.go_string()),
                        ));
                    }
                };
                if items.is_empty() {
                    if let Some(e) = else_list {
                        self.walk_list(dot, e)?;
                    }
                    return Ok(());
                }
                for (k, e) in items {
                    let m = self.vars.len();
                    match pipe.decl.as_slice() {
                        [one] => self.vars.push((one.clone(), e.clone())),
                        [a, b] => {
                            self.vars.push((a.clone(), k));
                            self.vars.push((b.clone(), e.clone()));
                        }
                        _ => {}
                    }
                    let r = self.walk_list(&e, list);
                    self.vars.truncate(m);
                    r?;
                }
                self.vars.truncate(mark);
                Ok(())
            }
            Node::Template { pos, name, pipe } => {
                let found = match self.tree.defs.get(name) {
                    Some(body) => Some((self.root_name, self.root_text, body.as_slice())),
                    None => self
                        .set
                        .and_then(|s| s.defs.get(name))
                        .map(|d| (&*d.file, &*d.text, d.body.as_slice())),
                };
                let Some((file, text, body)) = found else {
                    let node = match pipe {
                        Some(p) => format!("{{{{template {} {p}}}}}", crate::gofmt::quote(name)),
                        None => format!("{{{{template {}}}}}", crate::gofmt::quote(name)),
                    };
                    return Err(self.error_at(
                        *pos,
                        &node,
                        format_args!("template {} not defined", crate::gofmt::quote(name)),
                    ));
                };
                if self.depth >= MAX_DEPTH {
                    return Err(self.error_at(
                        *pos,
                        name,
                        "exceeded maximum template depth (100000)",
                    ));
                }
                let v = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let saved = std::mem::replace(&mut self.vars, vec![("$".to_string(), v.clone())]);
                let outer = (self.name, self.text, self.exec_name);
                (self.name, self.text, self.exec_name) = (file, text, name.as_str());
                self.depth += 1;
                let r = self.walk_list(&v, body);
                self.depth -= 1;
                (self.name, self.text, self.exec_name) = outer;
                self.vars = saved;
                r
            }
        }
    }

    /// Go's `printValue`: an invalid (nil) value prints `<no value>`.
    fn print(&mut self, v: &Value) {
        let text = match v {
            Value::Nil => "<no value>".to_string(),
            v => v.go_string(),
        };
        if self.html && !matches!(v, Value::Html(_)) {
            self.out.push_str(&funcs::html_template_escape(&text));
        } else {
            self.out.push_str(&text);
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for var in &pipe.decl {
            if pipe.is_assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == var) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((var.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Command, final_: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || final_.is_some() {
            let a = &cmd.args[0];
            return Err(self.error_at(
                a.pos(),
                &a.to_string(),
                format_args!("can't give argument to non-function {a}"),
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Command, final_: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, idents } => self.field_chain(
                dot,
                dot.clone(),
                *pos,
                &first.to_string(),
                idents,
                cmd,
                final_,
            ),
            Arg::Chain { pos, node, fields } => {
                let recv = self.eval_arg(dot, node)?;
                self.field_chain(dot, recv, *pos, &first.to_string(), fields, cmd, final_)
            }
            Arg::Variable { pos, idents } => {
                let v = self.var(&idents[0]);
                if idents.len() == 1 {
                    self.not_a_function(cmd, &final_)?;
                    return Ok(v);
                }
                self.field_chain(dot, v, *pos, &first.to_string(), &idents[1..], cmd, final_)
            }
            Arg::Ident { pos, name } => self.eval_function(dot, *pos, name, cmd, final_),
            Arg::Pipe { pipe, .. } => {
                self.not_a_function(cmd, &final_)?;
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, pipe);
                self.vars.truncate(mark);
                v
            }
            Arg::Nil { pos } => Err(self.error_at(*pos, "nil", "nil is not a command")),
            other => {
                self.not_a_function(cmd, &final_)?;
                self.eval_arg(dot, other)
            }
        }
    }

    fn var(&self, name: &str) -> Value {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Nil)
    }

    /// `recv.A.B.C`: every field but the last read plainly; the last one gets the
    /// command's arguments, which only a method could take.
    #[allow(clippy::too_many_arguments)]
    fn field_chain(
        &mut self,
        dot: &Value,
        mut recv: Value,
        pos: usize,
        context: &str,
        idents: &[String],
        cmd: &Command,
        final_: Option<Value>,
    ) -> R<Value> {
        let has_args = cmd.args.len() > 1 || final_.is_some();
        for (i, f) in idents.iter().enumerate() {
            let last = i + 1 == idents.len();
            if last
                && has_args
                && let Some(want) = methods::arity(&recv, f)
            {
                let mut args = Vec::with_capacity(cmd.args.len());
                for a in &cmd.args[1..] {
                    args.push(self.eval_arg(dot, a)?);
                }
                if let Some(v) = final_ {
                    args.push(v);
                }
                if args.len() != want {
                    return Err(self.error_at(
                        pos,
                        context,
                        format_args!(
                            "wrong number of args for {f}: want {want} got {}",
                            args.len()
                        ),
                    ));
                }
                return methods::call(&recv, f, &args).map_err(|e| {
                    self.error_at(pos, context, format_args!("error calling {f}: {e}"))
                });
            }
            recv = self.field(recv, f, pos, context, last && has_args)?;
        }
        Ok(recv)
    }

    fn field(
        &self,
        recv: Value,
        name: &str,
        pos: usize,
        context: &str,
        has_args: bool,
    ) -> R<Value> {
        let not_method = || {
            self.error_at(
                pos,
                context,
                format_args!("{name} is not a method but has arguments"),
            )
        };
        if let Some(want) = methods::arity(&recv, name) {
            if want > 0 {
                return Err(self.error_at(
                    pos,
                    context,
                    format_args!("wrong number of args for {name}: want {want} got 0"),
                ));
            }
            return methods::call(&recv, name, &[]).map_err(|e| {
                self.error_at(pos, context, format_args!("error calling {name}: {e}"))
            });
        }
        match recv {
            // Go: a field of a missing value is missing too (missingkey=zero).
            Value::Nil => Ok(Value::Nil),
            Value::Struct(s) => match s.fields.iter().find(|(n, _)| n == name) {
                Some(_) if has_args => Err(not_method()),
                Some((_, v)) => Ok(v.clone()),
                None => Err(self.error_at(
                    pos,
                    context,
                    format_args!("can't evaluate field {name} in type {}", s.name),
                )),
            },
            Value::Map(m) => {
                if has_args {
                    return Err(not_method());
                }
                Ok(m.get(name).cloned().unwrap_or(Value::Nil))
            }
            Value::StrMap(m) | Value::Kv(m) => {
                if has_args {
                    return Err(not_method());
                }
                Ok(Value::String(m.get(name).cloned().unwrap_or_default()))
            }
            other => Err(self.error_at(
                pos,
                context,
                format_args!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    /// An argument's value; a nested command runs.
    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        match arg {
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Ok(Value::Nil),
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Number { val, .. } => Ok(val.clone()),
            Arg::String { val, .. } => Ok(Value::String(val.clone())),
            Arg::Field { pos, idents } => {
                let mut v = dot.clone();
                let ctx = arg.to_string();
                for f in idents {
                    v = self.field(v, f, *pos, &ctx, false)?;
                }
                Ok(v)
            }
            Arg::Variable { pos, idents } => {
                let mut v = self.var(&idents[0]);
                let ctx = arg.to_string();
                for f in &idents[1..] {
                    v = self.field(v, f, *pos, &ctx, false)?;
                }
                Ok(v)
            }
            Arg::Chain { pos, node, fields } => {
                let mut v = self.eval_arg(dot, node)?;
                let ctx = arg.to_string();
                for f in fields {
                    v = self.field(v, f, *pos, &ctx, false)?;
                }
                Ok(v)
            }
            Arg::Pipe { pipe, .. } => {
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, pipe);
                self.vars.truncate(mark);
                v
            }
            Arg::Ident { pos, name } => {
                let cmd = Command {
                    pos: *pos,
                    args: vec![arg.clone()],
                };
                self.eval_function(dot, *pos, name, &cmd, None)
            }
        }
    }

    /// An argument for a parameter of kind `param`, checked as Go's `evalArg` and
    /// `validateType` check it.
    fn typed_arg(&mut self, dot: &Value, arg: &Arg, param: Param) -> R<Value> {
        let v = self.eval_arg(dot, arg)?;
        if param == Param::Str && !matches!(v, Value::String(_)) {
            let msg = match arg {
                Arg::Number { .. } | Arg::Bool { .. } | Arg::Nil { .. } | Arg::Dot { .. } => {
                    match (&v, arg) {
                        (Value::Nil, Arg::Nil { .. }) => "cannot assign nil to string".to_string(),
                        _ if matches!(arg, Arg::Dot { .. }) => {
                            format!(
                                "wrong type for value; expected string; got {}",
                                v.type_name()
                            )
                        }
                        _ => format!("expected string; found {arg}"),
                    }
                }
                _ if v == Value::Nil => "invalid value; expected string".to_string(),
                _ => format!(
                    "wrong type for value; expected string; got {}",
                    v.type_name()
                ),
            };
            return Err(self.error_at(arg.pos(), &arg.to_string(), msg));
        }
        Ok(v)
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        cmd: &Command,
        final_: Option<Value>,
    ) -> R<Value> {
        let args = &cmd.args[1..];
        let sig = funcs::signature(name);
        let num_in = args.len() + usize::from(final_.is_some());
        let fixed = sig.fixed.len();
        if sig.variadic.is_some() {
            if num_in < fixed {
                return Err(self.error_at(
                    pos,
                    name,
                    format_args!(
                        "wrong number of args for {name}: want at least {fixed} got {}",
                        args.len()
                    ),
                ));
            }
        } else if num_in != fixed {
            return Err(self.error_at(
                pos,
                name,
                format_args!("wrong number of args for {name}: want {fixed} got {num_in}"),
            ));
        }
        // `and` and `or` stop at the first argument that decides them.
        if name == "and" || name == "or" {
            let want = name == "or";
            let mut v = Value::Nil;
            for a in args {
                v = self.eval_arg(dot, a)?;
                if v.truth() == want {
                    return Ok(v);
                }
            }
            if let Some(f) = final_ {
                v = f;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let p = sig
                .fixed
                .get(i)
                .copied()
                .or(sig.variadic)
                .unwrap_or(Param::Any);
            argv.push(self.typed_arg(dot, a, p)?);
        }
        if let Some(f) = final_ {
            let p = if sig.variadic.is_some() {
                sig.variadic.unwrap_or(Param::Any)
            } else {
                sig.fixed.last().copied().unwrap_or(Param::Any)
            };
            if p == Param::Str && !matches!(f, Value::String(_)) {
                let msg = if f == Value::Nil {
                    "invalid value; expected string".to_string()
                } else {
                    format!(
                        "wrong type for value; expected string; got {}",
                        f.type_name()
                    )
                };
                return Err(self.error_at(cmd.pos, &cmd.to_string(), msg));
            }
            argv.push(f);
        }
        funcs::call(name, argv, self.ctx, self.set.is_some()).map_err(|e| {
            self.error_at(
                cmd.pos,
                &cmd.to_string(),
                format_args!("error calling {name}: {e}"),
            )
        })
    }
}
