//! `--filter EXPR`: Guild 0.9's run filter expressions.
//!
//! ```text
//! expr    := unary ((and | or) expr)?        and/or: same precedence, right-assoc
//! unary   := not unary | ( expr ) | test | term
//! test    := ID (= | != | <> | < | <= | > | >= | is [not]) term
//!          | ID [not] in list | ID [not] contains term
//! term    := NUMBER | 'str' | "str" | ID | true | false | undefined | list
//! list    := [ term (, term)* ]
//! ```
//!
//! A reference names a run attribute, then a flag, then a scalar (last
//! value); `attr:`, `flag:` and `scalar:` pick one. Comparisons follow
//! Python's: numbers compare across int and float, other mixed types are
//! unequal and never ordered.

use super::RunInfo;
use crate::error::{Error, Result};
use serde_yaml_ng::Value as Yaml;
use std::cell::OnceCell;
use std::collections::BTreeMap;

/// A value in a filter: a term or what a run has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Val>),
}

impl Val {
    fn from_yaml(v: &Yaml) -> Val {
        match v {
            Yaml::Null => Val::None,
            Yaml::Bool(b) => Val::Bool(*b),
            Yaml::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Yaml::String(s) => Val::Str(s.clone()),
            Yaml::Sequence(s) => Val::List(s.iter().map(Val::from_yaml).collect()),
            other => Val::Str(crate::run::yaml::flow(other)),
        }
    }

    /// A number token or quoted string, decoded as YAML as Guild does.
    fn decode(text: &str) -> Val {
        match serde_yaml_ng::from_str::<Yaml>(text) {
            Ok(v) => Val::from_yaml(&v),
            Err(_) => Val::Str(text.to_string()),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Bool(b) => Some(f64::from(u8::from(*b))),
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Val::None => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
        }
    }

    /// Python's `==`.
    fn eq(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::None, Val::None) => true,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::List(a), Val::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq(y))
            }
            _ => match (self.num(), other.num()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// Python's ordering; None where Python raises TypeError.
    fn partial_cmp(&self, other: &Val) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
            _ => self.num()?.partial_cmp(&other.num()?),
        }
    }

    /// Python's `str()`.
    fn py_str(&self) -> String {
        match self {
            Val::None => "None".into(),
            Val::Bool(true) => "True".into(),
            Val::Bool(false) => "False".into(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => crate::run::yaml::python_float_repr(*f),
            Val::Str(s) => s.clone(),
            Val::List(l) => format!(
                "[{}]",
                l.iter()
                    .map(|v| match v {
                        Val::Str(s) => format!("'{s}'"),
                        v => v.py_str(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Term(Val),
    Test(String, Cmp, Val),
    In(String, Val, bool),
    Contains(String, Val, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Cmp(Cmp),
    And,
    Or,
    In,
    Not,
    True,
    False,
    Is,
    Undefined,
    Contains,
    Id(String),
    Num(String),
    Str(String),
}

fn lex(s: &str) -> Result<Vec<(usize, Tok, String)>> {
    let num = regex::Regex::new(r"^-?\.?\d+(\.\d+)?(e(\+|-)?(\d+))?").expect("static regex");
    let id = regex::Regex::new(r"^[a-zA-Z][^ ,<>!=\n()\[\]]*").expect("static regex");
    let quoted = regex::Regex::new(r#"^(("([^\\\n]|(\\.))*?")|('([^\\\n]|(\\.))*?'))"#)
        .expect("static regex");
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let rest = &s[pos..];
        let c = rest.chars().next().unwrap_or(' ');
        if c == ' ' || c == '\t' || c == '\n' {
            pos += 1;
            continue;
        }
        let fixed: &[(&str, Tok)] = &[
            ("(", Tok::LParen),
            (")", Tok::RParen),
            ("[", Tok::LBracket),
            ("]", Tok::RBracket),
            ("<>", Tok::Cmp(Cmp::Ne)),
            ("!=", Tok::Cmp(Cmp::Ne)),
            ("=", Tok::Cmp(Cmp::Eq)),
            ("<=", Tok::Cmp(Cmp::Le)),
            ("<", Tok::Cmp(Cmp::Lt)),
            (">=", Tok::Cmp(Cmp::Ge)),
            (">", Tok::Cmp(Cmp::Gt)),
            (",", Tok::Comma),
        ];
        if let Some((t, tok)) = fixed.iter().find(|(t, _)| rest.starts_with(t)) {
            out.push((pos, tok.clone(), t.to_string()));
            pos += t.len();
            continue;
        }
        let (len, tok) = if let Some(m) = id.find(rest) {
            let word = m.as_str();
            let tok = match word.to_lowercase().as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "in" => Tok::In,
                "not" => Tok::Not,
                "true" => Tok::True,
                "false" => Tok::False,
                "is" => Tok::Is,
                "undefined" => Tok::Undefined,
                "contains" => Tok::Contains,
                _ => Tok::Id(word.to_string()),
            };
            (m.end(), tok)
        } else if let Some(m) = num.find(rest) {
            (m.end(), Tok::Num(m.as_str().to_string()))
        } else if let Some(m) = quoted.find(rest) {
            (m.end(), Tok::Str(m.as_str().to_string()))
        } else {
            return Err(syntax(Some(pos), &format!("unexpected character '{c}'")));
        };
        out.push((pos, tok, rest[..len].to_string()));
        pos += len;
    }
    Ok(out)
}

fn syntax(pos: Option<usize>, what: &str) -> Error {
    match pos {
        Some(p) => Error::user(format!("syntax error in filter at position {p}: {what}")),
        None => Error::user("syntax error in filter - unexpected end of expresion"),
    }
}

struct Parser {
    toks: Vec<(usize, Tok, String)>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.1)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.toks.get(self.i + 1).map(|t| &t.1)
    }

    fn unexpected(&self) -> Error {
        match self.toks.get(self.i) {
            Some((pos, _, text)) => syntax(Some(*pos), &format!("unexpected token '{text}'")),
            None => syntax(None, ""),
        }
    }

    fn next(&mut self) -> Result<Tok> {
        let t = self.peek().cloned().ok_or_else(|| syntax(None, ""))?;
        self.i += 1;
        Ok(t)
    }

    fn expr(&mut self) -> Result<Expr> {
        let lhs = self.unary()?;
        match self.peek() {
            Some(Tok::And) => {
                self.i += 1;
                Ok(Expr::And(Box::new(lhs), Box::new(self.expr()?)))
            }
            Some(Tok::Or) => {
                self.i += 1;
                Ok(Expr::Or(Box::new(lhs), Box::new(self.expr()?)))
            }
            _ => Ok(lhs),
        }
    }

    fn unary(&mut self) -> Result<Expr> {
        match self.peek() {
            Some(Tok::Not) => {
                self.i += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.i += 1;
                let e = self.expr()?;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.i += 1;
                        Ok(e)
                    }
                    _ => Err(self.unexpected()),
                }
            }
            Some(Tok::Id(_)) if self.peek2().is_some_and(is_test_op) => self.test(),
            Some(_) => Ok(Expr::Term(self.term()?)),
            None => Err(syntax(None, "")),
        }
    }

    fn test(&mut self) -> Result<Expr> {
        let Tok::Id(name) = self.next()? else {
            return Err(self.unexpected());
        };
        match self.next()? {
            Tok::Cmp(c) => Ok(Expr::Test(name, c, self.term()?)),
            Tok::Is => {
                if self.peek() == Some(&Tok::Not) {
                    self.i += 1;
                    Ok(Expr::Test(name, Cmp::Ne, self.term()?))
                } else {
                    Ok(Expr::Test(name, Cmp::Eq, self.term()?))
                }
            }
            Tok::In => Ok(Expr::In(name, self.list()?, false)),
            Tok::Contains => Ok(Expr::Contains(name, self.term()?, false)),
            Tok::Not => match self.next()? {
                Tok::In => Ok(Expr::In(name, self.list()?, true)),
                Tok::Contains => Ok(Expr::Contains(name, self.term()?, true)),
                _ => {
                    self.i -= 1;
                    Err(self.unexpected())
                }
            },
            _ => {
                self.i -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn list(&mut self) -> Result<Val> {
        if self.peek() != Some(&Tok::LBracket) {
            return Err(self.unexpected());
        }
        self.i += 1;
        let mut items = vec![self.term()?];
        loop {
            match self.next()? {
                Tok::Comma => items.push(self.term()?),
                Tok::RBracket => return Ok(Val::List(items)),
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected());
                }
            }
        }
    }

    fn term(&mut self) -> Result<Val> {
        let v = match self.peek() {
            Some(Tok::LBracket) => return self.list(),
            Some(Tok::Num(n)) => Val::decode(n),
            Some(Tok::Str(s)) => Val::decode(s),
            Some(Tok::Id(s)) => Val::Str(s.clone()),
            Some(Tok::True) => Val::Bool(true),
            Some(Tok::False) => Val::Bool(false),
            Some(Tok::Undefined) => Val::None,
            Some(_) => return Err(self.unexpected()),
            None => return Err(syntax(None, "")),
        };
        self.i += 1;
        Ok(v)
    }
}

fn is_test_op(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Cmp(_) | Tok::Is | Tok::In | Tok::Not | Tok::Contains
    )
}

/// A parsed `--filter` expression.
#[derive(Debug, Clone)]
pub struct Filter(Expr);

impl Filter {
    pub fn parse(s: &str) -> Result<Filter> {
        let mut p = Parser {
            toks: lex(s)?,
            i: 0,
        };
        let e = p.expr()?;
        if p.i < p.toks.len() {
            return Err(p.unexpected());
        }
        Ok(Filter(e))
    }

    pub(crate) fn matches(&self, r: &RunInfo) -> bool {
        let run = FilterRun {
            r,
            flags: OnceCell::new(),
            scalars: OnceCell::new(),
        };
        eval(&self.0, &run).truthy()
    }
}

/// A run's values as the filter reads them, loaded on first use.
struct FilterRun<'a> {
    r: &'a RunInfo,
    flags: OnceCell<BTreeMap<String, Val>>,
    scalars: OnceCell<BTreeMap<String, crate::output::scalars::Summary>>,
}

impl FilterRun<'_> {
    fn attr(&self, name: &str) -> Val {
        Val::from_yaml(&super::run_attr(self.r, name))
    }

    fn flag(&self, name: &str) -> Val {
        self.flags
            .get_or_init(|| match self.r.run.attr("flags") {
                Some(Yaml::Mapping(m)) => m
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_string(), Val::from_yaml(v))))
                    .collect(),
                _ => BTreeMap::new(),
            })
            .get(name)
            .cloned()
            .unwrap_or(Val::None)
    }

    fn scalar(&self, key: &str) -> Val {
        let scalars = self
            .scalars
            .get_or_init(|| crate::output::scalars::run_scalars(&self.r.run.dir));
        let found = if key.contains('#') {
            scalars.get(key)
        } else {
            scalars
                .iter()
                .find(|(k, _)| k.rsplit('#').next() == Some(key))
                .map(|(_, s)| s)
        };
        found.map(|s| Val::Float(s.last)).unwrap_or(Val::None)
    }

    fn value(&self, valref: &str) -> Val {
        if let Some(n) = valref.strip_prefix("attr:") {
            return self.attr(n);
        }
        if let Some(n) = valref.strip_prefix("flag:") {
            return self.flag(n);
        }
        if let Some(n) = valref.strip_prefix("scalar:") {
            return self.scalar(n);
        }
        let a = self.attr(valref);
        if a != Val::None {
            return a;
        }
        let f = self.flag(valref);
        if f != Val::None {
            return f;
        }
        self.scalar(valref)
    }
}

fn eval(e: &Expr, run: &FilterRun) -> Val {
    use std::cmp::Ordering::*;
    let b = Val::Bool;
    match e {
        Expr::Term(v) => v.clone(),
        Expr::Test(name, cmp, target) => {
            let v = run.value(name);
            b(match cmp {
                Cmp::Eq => v.eq(target),
                Cmp::Ne => !v.eq(target),
                Cmp::Lt => v.partial_cmp(target) == Some(Less),
                Cmp::Le => matches!(v.partial_cmp(target), Some(Less | Equal)),
                Cmp::Gt => v.partial_cmp(target) == Some(Greater),
                Cmp::Ge => matches!(v.partial_cmp(target), Some(Greater | Equal)),
            })
        }
        Expr::In(name, target, negate) => {
            let v = run.value(name);
            let found = match target {
                Val::List(items) => items.iter().any(|t| v.eq(t)),
                t => v.eq(t),
            };
            b(found != *negate)
        }
        Expr::Contains(name, target, negate) => {
            let v = run.value(name);
            let found = if !v.truthy() {
                false
            } else if let Val::List(items) = &v {
                items.iter().any(|i| i.eq(target))
            } else {
                v.py_str()
                    .to_lowercase()
                    .contains(&target.py_str().to_lowercase())
            };
            b(found != *negate)
        }
        // Python's `and`/`or` return an operand, not a bool.
        Expr::And(x, y) => {
            let l = eval(x, run);
            if l.truthy() {
                eval(y, run)
            } else {
                l
            }
        }
        Expr::Or(x, y) => {
            let l = eval(x, run);
            if l.truthy() {
                l
            } else {
                eval(y, run)
            }
        }
        Expr::Not(x) => b(!eval(x, run).truthy()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_guild_examples() {
        for s in [
            "true",
            "op = test and seed = 3",
            "op = train and seed in [1,3] and lr > 0.01 and lr < 0.2",
            "(operation = fixed:train and lr = 0.1 and loss < 2) or (op = test and test-acc > 80)",
            "model = ''",
            "acc is undefined",
            "acc is not undefined",
            "label not contains batch",
            "batch-size not in [400,800]",
            "not status in [error,terminated]",
        ] {
            Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {}", e.message()));
        }
    }

    #[test]
    fn syntax_errors_read_as_guilds() {
        let e = |s| {
            Filter::parse(s)
                .err()
                .map(|e| e.message())
                .unwrap_or_default()
        };
        assert_eq!(
            e("foo = ("),
            "syntax error in filter at position 6: unexpected token '('"
        );
        assert_eq!(
            e("("),
            "syntax error in filter - unexpected end of expresion"
        );
        assert_eq!(
            e("a = $"),
            "syntax error in filter at position 4: unexpected character '$'"
        );
    }

    #[test]
    fn python_comparisons() {
        assert!(Val::Int(1).eq(&Val::Float(1.0)));
        assert!(!Val::Str("1".into()).eq(&Val::Int(1)));
        assert_eq!(Val::None.partial_cmp(&Val::Int(1)), None);
        assert_eq!(Val::decode("0.1"), Val::Float(0.1));
        assert_eq!(Val::decode("'x y'"), Val::Str("x y".into()));
        assert_eq!(
            Filter::parse("a and b or c").map(|f| f.0).ok(),
            Some(Expr::And(
                Box::new(Expr::Term(Val::Str("a".into()))),
                Box::new(Expr::Or(
                    Box::new(Expr::Term(Val::Str("b".into()))),
                    Box::new(Expr::Term(Val::Str("c".into())))
                ))
            ))
        );
    }
}
