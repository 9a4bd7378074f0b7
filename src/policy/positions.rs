//! Where each statement of a policy document is in its file: the 1-based first and last line
//! of every element of the top-level `Statement` array (or of the one `Statement` object).
//! serde_json keeps no positions, so this is a small scan over the JSON text (strings and
//! escapes skipped, depth counted), used for code-scanning annotations on the statement.

/// First and last line (1-based) of each statement, in order; empty when the text is not a
/// plain JSON document with a `Statement` (a JSON string or URL-encoded document, for example).
pub fn statement_lines(text: &str) -> Vec<(usize, usize)> {
    let mut p = Scan {
        b: text.as_bytes(),
        i: 0,
    };
    let spans = p.document().unwrap_or_default();
    let line_of = |offset: usize| {
        p.b[..offset.min(p.b.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            + 1
    };
    spans
        .into_iter()
        .map(|(s, e)| (line_of(s), line_of(e)))
        .collect()
}

/// Deeper nesting than this is not scanned (no stack to exhaust on hostile input).
const MAX_DEPTH: usize = 128;

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// A string; returns its content's byte range.
    fn string(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
        let end = self.i;
        self.i += 1;
        Some((start, end))
    }

    /// Any value; returns the offsets of its first and last byte.
    fn value(&mut self, depth: usize) -> Option<(usize, usize)> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        let start = self.i;
        match *self.b.get(self.i)? {
            b'"' => {
                self.string()?;
            }
            b'{' => {
                self.i += 1;
                self.ws();
                if self.eat(b'}').is_none() {
                    loop {
                        self.string()?;
                        self.eat(b':')?;
                        self.value(depth + 1)?;
                        if self.eat(b',').is_none() {
                            self.eat(b'}')?;
                            break;
                        }
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.eat(b']').is_none() {
                    loop {
                        self.value(depth + 1)?;
                        if self.eat(b',').is_none() {
                            self.eat(b']')?;
                            break;
                        }
                    }
                }
            }
            _ => {
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| !b",}] \t\r\n".contains(c))
                {
                    self.i += 1;
                }
                if self.i == start {
                    return None;
                }
            }
        }
        Some((start, self.i - 1))
    }

    /// The top-level object; the spans of its `Statement`'s elements (or of the one object).
    fn document(&mut self) -> Option<Vec<(usize, usize)>> {
        let mut spans = Vec::new();
        self.ws();
        if self.b[self.i..].starts_with("\u{feff}".as_bytes()) {
            self.i += 3;
        }
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(spans);
        }
        loop {
            let (ks, ke) = self.string()?;
            self.eat(b':')?;
            self.ws();
            let is_statement = &self.b[ks..ke] == b"Statement";
            if is_statement && self.b.get(self.i) == Some(&b'[') {
                self.i += 1;
                if self.eat(b']').is_none() {
                    loop {
                        spans.push(self.value(1)?);
                        if self.eat(b',').is_none() {
                            self.eat(b']')?;
                            break;
                        }
                    }
                }
            } else {
                let span = self.value(1)?;
                if is_statement && self.b.get(span.0) == Some(&b'{') {
                    spans.push(span);
                }
            }
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                return Some(spans);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_each_statement() {
        let text = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "A",
      "Effect": "Allow",
      "Action": "ssm:StartSession",
      "Resource": "*",
      "Condition": {"StringEquals": {"k": ["}", "{\"]"]}}
    },
    {"Sid": "B", "Effect": "Deny", "Action": "*", "Resource": ["a", "b"]}
  ]
}"#;
        assert_eq!(statement_lines(text), [(4, 10), (11, 11)]);
    }

    #[test]
    fn one_statement_object_and_other_keys_named_statement() {
        let text = "{\"Id\": \"Statement\",\n \"Statement\": {\n  \"Effect\": \"Allow\"\n }\n}";
        assert_eq!(statement_lines(text), [(2, 4)]);
        let nested = r#"{"Other": {"Statement": [{"a": 1}]}, "Statement": [{"b": 2}]}"#;
        assert_eq!(statement_lines(nested), [(1, 1)]);
    }

    /// Hostile text (deep nesting, cut strings, random bytes) is never a panic.
    #[test]
    fn never_panics() {
        let deep = format!("{{\"Statement\": {}", "[".repeat(100_000));
        assert!(statement_lines(&deep).is_empty());
        let alphabet = ['{', '}', '[', ']', '"', '\\', ':', ',', ' ', '\n', 'S', 'é'];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut t = String::from("{\"Statement\":");
            for _ in 0..(x % 40) {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                t.push(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            let lines = statement_lines(&t);
            assert!(lines.iter().all(|(a, b)| a <= b));
        }
    }

    #[test]
    fn not_a_plain_document() {
        assert!(statement_lines("\"{\\\"Statement\\\": []}\"").is_empty());
        assert!(statement_lines("%7B%22Statement%22").is_empty());
        assert!(statement_lines("").is_empty());
        assert!(statement_lines("{\"Statement\": [").is_empty());
    }
}
