//! IAM wildcard patterns with policy variables.
//!
//! IAM wildcards are not path globs: `*` matches any run of characters (including `/` and, in a
//! whole-string match, `:`), `?` matches exactly one character, nothing else is special. Policy
//! variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`) are substituted as literal
//! text, and `${*}`, `${?}`, `${$}` stand for the literal characters (IAM User Guide, "IAM policy
//! elements: Variables and tags"). A hand-written matcher fits better than a glob crate, whose
//! special characters (`[`, `{`, `**`) mean something else; it is tested against a regex-free
//! reference in `tests/`.

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text (already lowercased for case-insensitive patterns).
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`; the key is lowercased.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// How a pattern's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syntax {
    /// `*` and `?` are wildcards (Resource, Action, `StringLike`, `ArnLike`).
    pub wildcards: bool,
    /// `${...}` is a policy variable (policy `Version` 2012-10-17 and an element that takes them).
    pub variables: bool,
    /// Compare case-insensitively (actions, `StringEqualsIgnoreCase`).
    pub ignore_case: bool,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pieces: Vec<Piece>,
    has_vars: bool,
    ignore_case: bool,
}

/// The value of a policy variable in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarValue<'a> {
    Known(&'a str),
    /// The key is not in the request: the pattern matches nothing (unless a default is given).
    Absent,
    /// The log cannot tell the key's value.
    Unknown,
}

/// The outcome of a match that may depend on unknown values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    pub fn from_bool(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }
    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }
    pub fn negate(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// A `${` that is never closed, or an empty variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableError(pub String);

impl Pattern {
    /// Compiles `text` under `syntax`.
    pub fn parse(text: &str, syntax: Syntax) -> Result<Pattern, VariableError> {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut lit = String::new();
        let mut has_vars = false;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if syntax.variables && rest.starts_with("${") {
                let Some(end) = rest.find('}') else {
                    return Err(VariableError(format!(
                        "policy variable `{}` is not closed with `}}`",
                        rest
                    )));
                };
                let inner = &rest[2..end];
                rest = &rest[end + 1..];
                match inner {
                    "*" | "?" | "$" => lit.push_str(inner),
                    _ => {
                        let (key, default) = parse_variable(inner)?;
                        flush(&mut pieces, &mut lit, syntax.ignore_case);
                        has_vars = true;
                        pieces.push(Piece::Var { key, default });
                    }
                }
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if syntax.wildcards => {
                    flush(&mut pieces, &mut lit, syntax.ignore_case);
                    if pieces.last() != Some(&Piece::Star) {
                        pieces.push(Piece::Star);
                    }
                }
                '?' if syntax.wildcards => {
                    flush(&mut pieces, &mut lit, syntax.ignore_case);
                    pieces.push(Piece::One);
                }
                _ => lit.push(c),
            }
        }
        flush(&mut pieces, &mut lit, syntax.ignore_case);
        Ok(Pattern {
            pieces,
            has_vars,
            ignore_case: syntax.ignore_case,
        })
    }

    /// A pattern that matches everything (`*`).
    pub fn any() -> Pattern {
        Pattern {
            pieces: vec![Piece::Star],
            has_vars: false,
            ignore_case: false,
        }
    }

    fn fold(&self, v: &str) -> String {
        if self.ignore_case {
            v.to_lowercase()
        } else {
            v.to_string()
        }
    }

    pub fn has_vars(&self) -> bool {
        self.has_vars
    }

    /// Does the pattern compare case-insensitively (`StringEqualsIgnoreCase`)?
    pub fn ignores_case(&self) -> bool {
        self.ignore_case
    }

    pub fn is_any(&self) -> bool {
        self.pieces.len() == 1 && self.pieces[0] == Piece::Star
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Can some text that starts with `prefix` match? (A variable may stand for anything.)
    pub fn can_match_prefix(&self, prefix: &str) -> bool {
        fn go(pieces: &[Piece], t: &str) -> bool {
            if t.is_empty() {
                return true;
            }
            match pieces.first() {
                None => false,
                // A star absorbs the rest of the prefix; later pieces match some suffix.
                Some(Piece::Star) | Some(Piece::Var { .. }) => true,
                Some(Piece::One) => {
                    let mut c = t.chars();
                    c.next();
                    go(&pieces[1..], c.as_str())
                }
                Some(Piece::Lit(l)) => {
                    if t.len() <= l.len() {
                        l.starts_with(t)
                    } else {
                        t.starts_with(l.as_str()) && go(&pieces[1..], &t[l.len()..])
                    }
                }
            }
        }
        go(&self.pieces, &self.fold(prefix))
    }

    /// The variable keys this pattern uses (lowercased).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var { key, .. } => Some(key.as_str()),
            _ => None,
        })
    }

    /// Matches `text` when the pattern has no variables (variables are then treated as absent).
    pub fn matches(&self, text: &str) -> bool {
        if self.ignore_case {
            glob(&self.pieces, &text.to_lowercase())
        } else {
            glob(&self.pieces, text)
        }
    }

    /// Matches `text`, already lowercased by the caller when the pattern ignores case.
    pub fn matches_prepared(&self, text: &str) -> bool {
        glob(&self.pieces, text)
    }

    /// Matches `text`, resolving variables through `lookup` (which gets lowercased keys).
    pub fn matches_with<'v>(&self, text: &str, lookup: &dyn Fn(&str) -> VarValue<'v>) -> Tri {
        if !self.has_vars {
            return Tri::from_bool(self.matches(text));
        }
        let mut resolved: Vec<Piece> = Vec::with_capacity(self.pieces.len());
        let mut unknown = false;
        for p in &self.pieces {
            match p {
                Piece::Var { key, default } => match lookup(key) {
                    VarValue::Known(v) => push_lit(&mut resolved, self.fold(v)),
                    VarValue::Absent => match default {
                        Some(d) => push_lit(&mut resolved, self.fold(d)),
                        // A variable with no value makes this entry match nothing.
                        None => return Tri::False,
                    },
                    VarValue::Unknown => {
                        // Stand-in for any value: if even that cannot match, the answer is no.
                        unknown = true;
                        if resolved.last() != Some(&Piece::Star) {
                            resolved.push(Piece::Star);
                        }
                    }
                },
                other => resolved.push(other.clone()),
            }
        }
        let text_cmp;
        let text = if self.ignore_case {
            text_cmp = text.to_lowercase();
            text_cmp.as_str()
        } else {
            text
        };
        let m = glob(&resolved, text);
        match (m, unknown) {
            (false, _) => Tri::False,
            (true, false) => Tri::True,
            (true, true) => Tri::Unknown,
        }
    }
}

fn parse_variable(inner: &str) -> Result<(String, Option<String>), VariableError> {
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .ok_or_else(|| {
                    VariableError(format!(
                        "default value in `${{{inner}}}` must be in single quotes"
                    ))
                })?;
            (k.trim(), Some(d.to_string()))
        }
        None => (inner.trim(), None),
    };
    if key.is_empty() {
        return Err(VariableError(format!(
            "empty policy variable `${{{inner}}}`"
        )));
    }
    Ok((key.to_ascii_lowercase(), default))
}

fn flush(pieces: &mut Vec<Piece>, lit: &mut String, ignore_case: bool) {
    if !lit.is_empty() {
        let text = std::mem::take(lit);
        push_lit(
            pieces,
            if ignore_case {
                text.to_lowercase()
            } else {
                text
            },
        );
    }
}

fn push_lit(pieces: &mut Vec<Piece>, text: String) {
    if let Some(Piece::Lit(prev)) = pieces.last_mut() {
        prev.push_str(&text);
    } else if !text.is_empty() {
        pieces.push(Piece::Lit(text));
    }
}

#[inline]
fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Wildcard match of `text` against `pieces` (`Var` pieces never match).
///
/// The classic two-pointer algorithm: on a mismatch, retry from the most recent `*` with one more
/// character consumed. Backtracking to the last star is enough because `*` is the only piece of
/// variable length.
pub fn glob(pieces: &[Piece], text: &str) -> bool {
    // Fast paths for the common shapes.
    match pieces {
        [] => return text.is_empty(),
        [Piece::Star] => return true,
        [Piece::Lit(s)] => return s == text,
        [Piece::Lit(s), Piece::Star] => return text.starts_with(s.as_str()),
        _ => {}
    }
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < pieces.len() {
            match &pieces[pi] {
                Piece::Star => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                Piece::One => {
                    if ti < t.len() {
                        ti += utf8_len(t[ti]);
                        pi += 1;
                        continue;
                    }
                }
                Piece::Lit(s) => {
                    if t[ti..].starts_with(s.as_bytes()) {
                        ti += s.len();
                        pi += 1;
                        continue;
                    }
                }
                Piece::Var { .. } => {}
            }
        } else if ti == t.len() {
            return true;
        }
        match star {
            Some((sp, st)) if st < t.len() => {
                let next = st + utf8_len(t[st]);
                star = Some((sp, next));
                pi = sp + 1;
                ti = next;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIKE: Syntax = Syntax {
        wildcards: true,
        variables: true,
        ignore_case: false,
    };

    fn m(p: &str, t: &str) -> bool {
        Pattern::parse(p, LIKE).expect("valid pattern").matches(t)
    }

    #[test]
    fn wildcards_follow_iam_rules() {
        // IAM User Guide, "Action" / "Resource": `*` any run, `?` one character, full match only.
        assert!(m("*", ""));
        assert!(m("i-*", "i-0abc"));
        assert!(!m("i-*", "mi-0abc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"));
        assert!(m("*/x", "a/b/x"));
        assert!(!m("abc", "abcd"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn prefixes() {
        let p = |t: &str| Pattern::parse(t, LIKE).expect("valid");
        assert!(p("document/AWS-*").can_match_prefix("document/"));
        assert!(p("doc*").can_match_prefix("document/"));
        assert!(p("*").can_match_prefix("document/"));
        assert!(p("d?cument/x").can_match_prefix("document/"));
        assert!(!p("instance/*").can_match_prefix("document/"));
        assert!(!p("document").can_match_prefix("document/"));
        assert!(p("${aws:username}").can_match_prefix("document/"));
    }

    #[test]
    fn literal_variables_are_not_wildcards() {
        // "${*}" is a literal star (IAM User Guide, "Special characters").
        let p = Pattern::parse("a${*}b", LIKE).expect("valid");
        assert!(p.matches("a*b"));
        assert!(!p.matches("aXb"));
        assert!(Pattern::parse("${$}{x}", LIKE)
            .expect("valid")
            .matches("${x}"));
    }

    #[test]
    fn variables_resolve_or_match_nothing() {
        let p = Pattern::parse("session/${aws:username}-*", LIKE).expect("valid");
        let known = |_: &str| VarValue::Known("alice");
        assert_eq!(p.matches_with("session/alice-123", &known), Tri::True);
        assert_eq!(p.matches_with("session/bob-123", &known), Tri::False);
        let absent = |_: &str| VarValue::Absent;
        assert_eq!(p.matches_with("session/-123", &absent), Tri::False);
        let unknown = |_: &str| VarValue::Unknown;
        assert_eq!(p.matches_with("session/bob-1", &unknown), Tri::Unknown);
        assert_eq!(p.matches_with("document/x", &unknown), Tri::False);
        let d = Pattern::parse("${aws:PrincipalTag/team, 'none'}", LIKE).expect("valid");
        assert_eq!(d.matches_with("none", &absent), Tri::True);
    }

    #[test]
    fn variable_value_is_literal_text() {
        let p = Pattern::parse("${aws:username}", LIKE).expect("valid");
        let star = |_: &str| VarValue::Known("*");
        assert_eq!(p.matches_with("anything", &star), Tri::False);
        assert_eq!(p.matches_with("*", &star), Tri::True);
    }

    #[test]
    fn without_variables_dollar_brace_is_text() {
        let p = Pattern::parse(
            "${aws:username}",
            Syntax {
                variables: false,
                ..LIKE
            },
        )
        .expect("valid");
        assert!(p.matches("${aws:username}"));
    }

    #[test]
    fn unclosed_variable_is_an_error() {
        assert!(Pattern::parse("${aws:username", LIKE).is_err());
        assert!(Pattern::parse("${x, none}", LIKE).is_err());
    }
}
