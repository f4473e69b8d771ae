//! The topic query language: a lexer and a recursive-descent parser producing
//! an expression tree with aliases already expanded.
//!
//! Grammar (precedence NOT > AND > OR; AND may be implicit):
//! ```text
//! or    := and ("OR" and)*
//! and   := unary (["AND"] unary)*
//! unary := ("NOT" | "-") unary | "(" or ")" | WORD | "PHRASE" | @ALIAS
//! ```
//! Operators are upper case, as in Lucene; lower-case "and"/"or" are words.

use super::Aliases;
use super::text::{fold, is_unspaced_script, words};
use thiserror::Error;

/// A query that could not be parsed; `at` is a byte offset into the query.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct QueryError {
    pub at: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl QueryError {
    fn new(at: usize, message: impl Into<String>, hint: impl Into<String>) -> Self {
        let hint: String = hint.into();
        QueryError {
            at,
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// One folded word, matched as a whole word.
    Word(String),
    /// Consecutive folded words.
    Phrase(Vec<String>),
    /// Text in a script without spaces, matched anywhere in the folded text.
    Substring(String),
}

impl Term {
    /// Builds the term for `raw` (a bare word or a phrase's inside). `None`
    /// when it holds no letters or digits at all.
    pub fn from_text(raw: &str) -> Option<Term> {
        let folded = fold(raw.trim());
        if folded.chars().any(is_unspaced_script) {
            return Some(Term::Substring(folded));
        }
        let mut ws: Vec<String> = words(&folded).map(str::to_owned).collect();
        match ws.len() {
            0 => None,
            1 => ws.pop().map(Term::Word),
            _ => Some(Term::Phrase(ws)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Word(String),
    Phrase(String),
    Alias(String),
}

fn lex(q: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let mut toks = Vec::new();
    let mut it = q.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' => {
                it.next();
                toks.push((i, Tok::LParen));
            }
            ')' => {
                it.next();
                toks.push((i, Tok::RParen));
            }
            '"' => {
                it.next();
                let start = i + 1;
                let mut end = None;
                for (j, c) in it.by_ref() {
                    if c == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let Some(end) = end else {
                    return Err(QueryError::new(
                        i,
                        "unclosed quote",
                        "add a closing \" after the phrase",
                    ));
                };
                toks.push((i, Tok::Phrase(q[start..end].to_owned())));
            }
            '-' => {
                it.next();
                match it.peek() {
                    Some(&(_, n)) if !n.is_whitespace() && n != ')' => toks.push((i, Tok::Minus)),
                    _ => {
                        return Err(QueryError::new(
                            i,
                            "'-' must stand directly before the term it excludes",
                            "write -sport (no space), or NOT sport",
                        ));
                    }
                }
            }
            '@' => {
                it.next();
                let start = i + 1;
                let mut end = start;
                while let Some(&(j, c)) = it.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '-' {
                        end = j + c.len_utf8();
                        it.next();
                    } else {
                        break;
                    }
                }
                if end == start {
                    return Err(QueryError::new(
                        i,
                        "'@' must be followed by an alias name",
                        "write @name, where name is defined under [alias]",
                    ));
                }
                toks.push((i, Tok::Alias(q[start..end].to_owned())));
            }
            _ => {
                let start = i;
                let mut end = i;
                while let Some(&(j, c)) = it.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    end = j + c.len_utf8();
                    it.next();
                }
                let w = &q[start..end];
                let tok = match w {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(w.to_owned()),
                };
                toks.push((start, tok));
            }
        }
    }
    Ok(toks)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    len: usize,
    aliases: &'a Aliases,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(i, _)| *i)
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            let op_at = self.at();
            self.pos += 1;
            if self.starts_operand() {
                parts.push(self.and()?);
            } else {
                return Err(QueryError::new(
                    op_at,
                    "OR needs a term on its right",
                    "remove the OR or add a term after it",
                ));
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn starts_operand(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Tok::LParen | Tok::Not | Tok::Minus | Tok::Word(_) | Tok::Phrase(_) | Tok::Alias(_)
            )
        )
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    let op_at = self.at();
                    self.pos += 1;
                    if !self.starts_operand() {
                        return Err(QueryError::new(
                            op_at,
                            "AND needs a term on its right",
                            "remove the AND or add a term after it",
                        ));
                    }
                    parts.push(self.unary()?);
                }
                _ if self.starts_operand() => parts.push(self.unary()?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let at = self.at();
        let Some(tok) = self.peek().cloned() else {
            return Err(QueryError::new(
                at,
                "the query ends where a term was expected",
                "add a term, or remove the trailing operator",
            ));
        };
        self.pos += 1;
        match tok {
            Tok::Not | Tok::Minus => {
                if !self.starts_operand() {
                    return Err(QueryError::new(
                        at,
                        "NOT needs a term after it",
                        "write NOT sport or -sport",
                    ));
                }
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                if self.peek() == Some(&Tok::RParen) {
                    return Err(QueryError::new(
                        at,
                        "empty parentheses",
                        "put terms inside ( ), or remove them",
                    ));
                }
                let inner = self.or()?;
                if self.peek() == Some(&Tok::RParen) {
                    self.pos += 1;
                    Ok(inner)
                } else {
                    Err(QueryError::new(
                        at,
                        "unclosed '('",
                        "add a ')' to close this group",
                    ))
                }
            }
            Tok::RParen => Err(QueryError::new(
                at,
                "unmatched ')'",
                "remove it, or add the '(' it closes",
            )),
            Tok::And | Tok::Or => {
                let op = if tok == Tok::And { "AND" } else { "OR" };
                Err(QueryError::new(
                    at,
                    format!("{op} needs a term on its left"),
                    format!("remove the {op}, or add a term before it"),
                ))
            }
            Tok::Word(w) => Term::from_text(&w).map(Expr::Term).ok_or_else(|| {
                QueryError::new(
                    at,
                    format!("`{w}` holds no letters or digits"),
                    "remove it; queries match words, not punctuation",
                )
            }),
            Tok::Phrase(p) => Term::from_text(&p).map(Expr::Term).ok_or_else(|| {
                QueryError::new(
                    at,
                    "empty phrase",
                    "put words between the quotes, or remove them",
                )
            }),
            Tok::Alias(name) => self.alias(at, &name),
        }
    }

    fn alias(&self, at: usize, name: &str) -> Result<Expr, QueryError> {
        let Some(terms) = self.aliases.get(name) else {
            let known: Vec<_> = self.aliases.keys().map(|k| format!("@{k}")).collect();
            let hint = if known.is_empty() {
                format!("define it in config.toml: [alias] {name} = [\"term\", ...]")
            } else {
                format!(
                    "define it under [alias], or use one of: {}",
                    known.join(", ")
                )
            };
            return Err(QueryError::new(at, format!("unknown alias @{name}"), hint));
        };
        let mut parts = Vec::with_capacity(terms.len());
        for t in terms {
            match Term::from_text(t) {
                Some(term) => parts.push(Expr::Term(term)),
                None => {
                    return Err(QueryError::new(
                        at,
                        format!("alias @{name} has a term with no letters or digits: {t:?}"),
                        "remove that term from the alias",
                    ));
                }
            }
        }
        if parts.is_empty() {
            return Err(QueryError::new(
                at,
                format!("alias @{name} is empty"),
                "give it at least one term",
            ));
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }
}

/// Parses a query, expanding `@alias` references from `aliases`.
pub fn parse_query(q: &str, aliases: &Aliases) -> Result<Expr, QueryError> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Err(QueryError::new(
            0,
            "the query is empty",
            "write at least one term, e.g. query = '\"peace treaty\"'",
        ));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        len: q.len(),
        aliases,
    };
    let expr = p.or()?;
    if p.pos < p.toks.len() {
        let at = p.at();
        let msg = if p.peek() == Some(&Tok::RParen) {
            "unmatched ')'"
        } else {
            "unexpected text"
        };
        return Err(QueryError::new(
            at,
            msg,
            "remove it, or add the '(' it closes",
        ));
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases() -> Aliases {
        let mut a = Aliases::new();
        a.insert("japan".into(), vec!["Japan".into(), "日本".into()]);
        a
    }

    fn w(s: &str) -> Expr {
        Expr::Term(Term::Word(s.into()))
    }

    #[test]
    fn precedence_not_over_and_over_or() {
        let e = parse_query("a b OR NOT c AND d", &aliases()).unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::And(vec![w("a"), w("b")]),
                Expr::And(vec![Expr::Not(Box::new(w("c"))), w("d")]),
            ])
        );
    }

    #[test]
    fn phrases_minus_groups_and_aliases() {
        let e = parse_query("(\"Peace Treaty\" OR @japan) -Sport", &aliases()).unwrap();
        assert_eq!(
            e,
            Expr::And(vec![
                Expr::Or(vec![
                    Expr::Term(Term::Phrase(vec!["peace".into(), "treaty".into()])),
                    Expr::Or(vec![w("japan"), Expr::Term(Term::Substring("日本".into()))]),
                ]),
                Expr::Not(Box::new(w("sport"))),
            ])
        );
    }

    #[test]
    fn lowercase_operators_are_words() {
        let e = parse_query("war and peace", &aliases()).unwrap();
        assert_eq!(e, Expr::And(vec![w("war"), w("and"), w("peace")]));
    }

    #[track_caller]
    fn err(q: &str) -> QueryError {
        parse_query(q, &aliases()).expect_err(q)
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = err("(Russia OR Japan");
        assert_eq!((e.at, e.message.as_str()), (0, "unclosed '('"));
        let e = err("Russia)");
        assert_eq!((e.at, e.message.as_str()), (6, "unmatched ')'"));
        let e = err("Russia AND @korea");
        assert_eq!((e.at, e.message.as_str()), (11, "unknown alias @korea"));
        assert!(e.hint.unwrap().contains("@japan"));
        let e = err("Russia \"treaty");
        assert_eq!((e.at, e.message.as_str()), (7, "unclosed quote"));
        let e = err("Russia OR");
        assert_eq!(
            (e.at, e.message.as_str()),
            (7, "OR needs a term on its right")
        );
        let e = err("AND Russia");
        assert_eq!(
            (e.at, e.message.as_str()),
            (0, "AND needs a term on its left")
        );
        assert_eq!(err("\"\"").message, "empty phrase");
        assert_eq!(err("   ").message, "the query is empty");
        assert_eq!(err("a - b").at, 2);
    }
}
