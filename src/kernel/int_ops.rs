//! Integer `/` and `%` in expression kernels, spelled out for the GPU side.
//!
//! WGSL leaves no room for a driver in integer division, but backends do: naga's
//! GLSL output keeps GLSL's `/` and `%`, whose results for a negative operand
//! (`%`) or a zero divisor are undefined (llvmpipe GL gave `-7 % 2 == 1`). So in
//! integer kernels every `a / b` becomes `div_t_(a, b)` and every `a % b`
//! becomes `rem_t_(a, b)`, helpers (in [`super::gpu`]) that divide unsigned
//! magnitudes only, which every backend defines. They give Rust's result for
//! every input where Rust's operator has one, and WGSL's result where Rust's
//! operator panics (a zero divisor, `i32::MIN / -1`).
//!
//! The rewrite parses the expression with Rust's precedence (the CPU side is
//! compiled by rustc, so Rust's reading is the one both sides must share) and
//! writes it back fully parenthesised. Expression kernels use the syntax Rust and
//! WGSL share: literals, names, calls, parentheses, unary `-` and `!`, and the
//! binary operators below. Anything else is left as written (and then fails
//! naga's validation or rustc's, as before).

/// The expression with every integer `/` and `%` replaced by a call of
/// `div_t_` / `rem_t_`, or `None` when it is not in the shared syntax.
pub(crate) fn spell_out_division(expr: &str) -> Option<String> {
    let tokens = tokenize(expr)?;
    let mut p = Parser { tokens, at: 0 };
    let out = p.expr(0)?;
    (p.at == p.tokens.len()).then_some(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A name or a literal, written back as it came.
    Atom(String),
    /// An operator: one of [`OPERATORS`].
    Op(&'static str),
    Open,
    Close,
    Comma,
}

/// Longest first, so that `<=` is not read as `<` then `=`.
const OPERATORS: [&str; 18] = [
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "&", "|",
    "^",
];

fn tokenize(s: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            let hex = b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X");
            while i < b.len() {
                let d = b[i] as char;
                let exponent_sign = (d == '+' || d == '-')
                    && !hex
                    && b[start].is_ascii_digit()
                    && matches!(b[i - 1], b'e' | b'E');
                let number_dot = d == '.' && b[start].is_ascii_digit();
                if d.is_ascii_alphanumeric() || d == '_' || number_dot || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Token::Atom(s[start..i].to_string()));
        } else if c == '(' {
            out.push(Token::Open);
            i += 1;
        } else if c == ')' {
            out.push(Token::Close);
            i += 1;
        } else if c == ',' {
            out.push(Token::Comma);
            i += 1;
        } else if c == '!' && !b[i..].starts_with(b"!=") {
            out.push(Token::Op("!"));
            i += 1;
        } else {
            let op = OPERATORS
                .iter()
                .find(|op| b[i..].starts_with(op.as_bytes()))?;
            out.push(Token::Op(op));
            i += op.len();
        }
    }
    Some(out)
}

/// Rust's binary precedence, loosest first (all left-associative; Rust rejects
/// chained comparisons, so treating them so changes nothing).
const LEVELS: [&[&str]; 9] = [
    &["||"],
    &["&&"],
    &["==", "!=", "<", ">", "<=", ">="],
    &["|"],
    &["^"],
    &["&"],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    /// An expression whose binary operators are of `level` or tighter.
    fn expr(&mut self, level: usize) -> Option<String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.expr(level + 1)?;
        while let Some(Token::Op(op)) = self.peek() {
            let op = *op;
            if !LEVELS[level].contains(&op) {
                break;
            }
            self.at += 1;
            let right = self.expr(level + 1)?;
            left = match op {
                "/" => format!("div_t_({left}, {right})"),
                "%" => format!("rem_t_({left}, {right})"),
                _ => format!("({left} {op} {right})"),
            };
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<String> {
        match self.peek() {
            Some(Token::Op(op @ ("-" | "!"))) => {
                let op = *op;
                self.at += 1;
                Some(format!("({op}{})", self.unary()?))
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Option<String> {
        match self.next()? {
            Token::Open => {
                let inner = self.expr(0)?;
                (self.next()? == Token::Close).then(|| format!("({inner})"))
            }
            Token::Atom(name) => {
                if self.peek() != Some(&Token::Open) {
                    return Some(name);
                }
                self.at += 1;
                let mut args = Vec::new();
                if self.peek() == Some(&Token::Close) {
                    self.at += 1;
                } else {
                    loop {
                        args.push(self.expr(0)?);
                        match self.next()? {
                            Token::Comma => continue,
                            Token::Close => break,
                            _ => return None,
                        }
                    }
                }
                Some(format!("{name}({})", args.join(", ")))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::spell_out_division as spell;

    #[test]
    fn division_and_remainder_become_calls_with_rusts_precedence() {
        assert_eq!(spell("x / y").unwrap(), "div_t_(x, y)");
        assert_eq!(spell("x % y").unwrap(), "rem_t_(x, y)");
        // Left-associative, one level with `*`.
        assert_eq!(
            spell("a / b * c % d").unwrap(),
            "rem_t_((div_t_(a, b) * c), d)"
        );
        assert_eq!(spell("a + b / c").unwrap(), "(a + div_t_(b, c))");
        assert_eq!(spell("-a / -b").unwrap(), "div_t_((-a), (-b))");
        assert_eq!(
            spell("select(0, x / 2, x % 2 == 1)").unwrap(),
            "select(0, div_t_(x, 2), (rem_t_(x, 2) == 1))"
        );
        assert_eq!(
            spell("(x + 1) / (y - 1)").unwrap(),
            "div_t_(((x + 1)), ((y - 1)))"
        );
        // Rust reads `a & b == c` as `(a & b) == c`; WGSL would reject it bare.
        assert_eq!(spell("a & b == c").unwrap(), "((a & b) == c)");
        assert_eq!(spell("a << 2 >> 1").unwrap(), "((a << 2) >> 1)");
        assert_eq!(
            spell("!(a < b) || a >= b && a != b").unwrap(),
            "((!((a < b))) || ((a >= b) && (a != b)))"
        );
        assert_eq!(spell("f()").unwrap(), "f()");
        assert_eq!(
            spell("x / 0x10 + 1e-3").unwrap(),
            "(div_t_(x, 0x10) + 1e-3)"
        );
    }

    #[test]
    fn syntax_outside_the_shared_subset_is_left_alone() {
        assert_eq!(spell("x as u32"), None);
        assert_eq!(spell("x / "), None);
        assert_eq!(spell("(x"), None);
        assert_eq!(spell("x.max(y)"), None);
        assert_eq!(spell("x = y"), None);
    }
}
