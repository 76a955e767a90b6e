//! keepalived.conf syntax: tokens, blocks, comments, quotes and `include`.

use std::sync::Arc;

use super::Loader;

/// Deepest include nesting we follow (keepalived has no limit; a cycle would never end).
const MAX_INCLUDE_DEPTH: usize = 32;

/// Deepest `{ ... }` nesting we parse, includes counted. Real configs nest five deep at most
/// (`virtual_server { real_server { HTTP_GET { url { ... } } } }`); without a limit, a file of
/// `{{{{...` would recurse until the stack overflows (found by the keepalived_import fuzz
/// target).
const MAX_BLOCK_DEPTH: usize = 64;

/// A position in one of the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) file: Arc<str>,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// One word, quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) text: String,
    pub(crate) pos: Pos,
}

/// A statement: a keyword, its arguments, and an optional `{ ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) name: Token,
    pub(crate) args: Vec<Token>,
    pub(crate) block: Option<Vec<Node>>,
}

impl Node {
    pub(crate) fn pos(&self) -> &Pos {
        &self.name.pos
    }

    /// The statement as written (keyword and arguments, no block).
    pub(crate) fn text(&self) -> String {
        let mut s = self.name.text.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.text);
        }
        if self.block.is_some() {
            s.push_str(" { ... }");
        }
        s
    }
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

#[derive(Debug)]
enum Lexeme {
    Word(Token),
    Open(Pos),
    Close(Pos),
    Newline,
}

fn lex(file: &Arc<str>, text: &str) -> Result<Vec<Lexeme>, SyntaxError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut col) = (1usize, 1usize);
    let mut word: Option<Token> = None;
    let pos = |line, column| Pos {
        file: file.clone(),
        line,
        column,
    };
    macro_rules! flush {
        () => {
            if let Some(t) = word.take() {
                out.push(Lexeme::Word(t));
            }
        };
    }
    while let Some(c) = chars.next() {
        let here = pos(line, col);
        col += 1;
        match c {
            '\n' => {
                flush!();
                out.push(Lexeme::Newline);
                line += 1;
                col = 1;
            }
            c if c.is_whitespace() => flush!(),
            '#' | '!' => {
                flush!();
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    chars.next();
                }
            }
            '{' => {
                flush!();
                out.push(Lexeme::Open(here));
            }
            '}' => {
                flush!();
                out.push(Lexeme::Close(here));
            }
            '\\' if chars.peek() == Some(&'\n') => {
                // line continuation
                chars.next();
                flush!();
                line += 1;
                col = 1;
            }
            '"' | '\'' => {
                let w = word.get_or_insert_with(|| Token {
                    text: String::new(),
                    pos: here.clone(),
                });
                loop {
                    let Some(q) = chars.next() else {
                        return Err(SyntaxError {
                            pos: here,
                            message: format!("unterminated {c} quote"),
                        });
                    };
                    col += 1;
                    if q == c {
                        break;
                    }
                    if q == '\n' {
                        line += 1;
                        col = 1;
                    }
                    if q == '\\' {
                        let Some(e) = chars.next() else { continue };
                        col += 1;
                        w.text.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                        continue;
                    }
                    w.text.push(q);
                }
            }
            c => {
                word.get_or_insert_with(|| Token {
                    text: String::new(),
                    pos: here,
                })
                .text
                .push(c);
            }
        }
    }
    flush!();
    Ok(out)
}

/// Parses a file and the files it includes.
pub(crate) fn parse(
    name: &str,
    text: &str,
    loader: &dyn Loader,
    notes: &mut Vec<(Pos, String, String)>,
) -> Result<Vec<Node>, SyntaxError> {
    let mut stack = vec![name.to_string()];
    parse_file(name, text, loader, notes, &mut stack, 0)
}

/// Parses one file whose statements land `depth` blocks deep (an include inside a block).
fn parse_file(
    name: &str,
    text: &str,
    loader: &dyn Loader,
    notes: &mut Vec<(Pos, String, String)>,
    stack: &mut Vec<String>,
    depth: usize,
) -> Result<Vec<Node>, SyntaxError> {
    let file: Arc<str> = Arc::from(name);
    let lexemes = lex(&file, text)?;
    let mut iter = lexemes.into_iter().peekable();
    let nodes = parse_block(&mut iter, None, loader, notes, stack, depth)?;
    Ok(nodes)
}

fn parse_block(
    iter: &mut std::iter::Peekable<std::vec::IntoIter<Lexeme>>,
    opened_at: Option<Pos>,
    loader: &dyn Loader,
    notes: &mut Vec<(Pos, String, String)>,
    stack: &mut Vec<String>,
    depth: usize,
) -> Result<Vec<Node>, SyntaxError> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut current: Option<Node> = None;
    loop {
        match iter.next() {
            None => {
                if let Some(n) = current.take() {
                    push(&mut nodes, n, loader, notes, stack, depth)?;
                }
                return match opened_at {
                    Some(pos) => Err(SyntaxError {
                        pos,
                        message: "this `{` is never closed".into(),
                    }),
                    None => Ok(nodes),
                };
            }
            Some(Lexeme::Newline) => {
                if let Some(n) = current.take() {
                    push(&mut nodes, n, loader, notes, stack, depth)?;
                }
            }
            Some(Lexeme::Word(t)) => match &mut current {
                Some(n) => n.args.push(t),
                None => {
                    current = Some(Node {
                        name: t,
                        args: Vec::new(),
                        block: None,
                    })
                }
            },
            Some(Lexeme::Open(pos)) => {
                if depth >= MAX_BLOCK_DEPTH {
                    return Err(SyntaxError {
                        pos,
                        message: format!("blocks nested deeper than {MAX_BLOCK_DEPTH}"),
                    });
                }
                let children =
                    parse_block(iter, Some(pos.clone()), loader, notes, stack, depth + 1)?;
                match current.take() {
                    Some(mut n) => {
                        n.block = Some(children);
                        push(&mut nodes, n, loader, notes, stack, depth)?;
                    }
                    None => match nodes.last_mut() {
                        // `{` on the line after its keyword
                        Some(prev) if prev.block.is_none() => prev.block = Some(children),
                        _ => {
                            return Err(SyntaxError {
                                pos,
                                message: "`{` without a keyword before it".into(),
                            });
                        }
                    },
                }
            }
            Some(Lexeme::Close(pos)) => {
                if let Some(n) = current.take() {
                    push(&mut nodes, n, loader, notes, stack, depth)?;
                }
                return match opened_at {
                    Some(_) => Ok(nodes),
                    None => Err(SyntaxError {
                        pos,
                        message: "`}` without a matching `{`".into(),
                    }),
                };
            }
        }
    }
}

/// Appends a statement, replacing an `include` with the statements of the included files.
fn push(
    nodes: &mut Vec<Node>,
    node: Node,
    loader: &dyn Loader,
    notes: &mut Vec<(Pos, String, String)>,
    stack: &mut Vec<String>,
    depth: usize,
) -> Result<(), SyntaxError> {
    let kw = node.name.text.as_str();
    if !matches!(
        kw,
        "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
    ) {
        nodes.push(node);
        return Ok(());
    }
    let Some(pattern) = node.args.first() else {
        return Err(SyntaxError {
            pos: node.pos().clone(),
            message: format!("`{kw}` needs a file name"),
        });
    };
    if stack.len() > MAX_INCLUDE_DEPTH {
        return Err(SyntaxError {
            pos: node.pos().clone(),
            message: format!("includes nested deeper than {MAX_INCLUDE_DEPTH}"),
        });
    }
    let from = node.pos().file.to_string();
    let files = match loader.include(&pattern.text, &from) {
        Ok(files) => files,
        Err(e) => {
            // keepalived's plain `include` ignores files it cannot open; so do we, loudly.
            notes.push((
                node.pos().clone(),
                node.text(),
                format!("not included: {e}"),
            ));
            return Ok(());
        }
    };
    if files.is_empty() {
        notes.push((
            node.pos().clone(),
            node.text(),
            "no file matches this pattern".into(),
        ));
    }
    for (name, text) in files {
        if stack.contains(&name) {
            return Err(SyntaxError {
                pos: node.pos().clone(),
                message: format!("{name} includes itself (through {})", stack.join(" -> ")),
            });
        }
        stack.push(name.clone());
        let included = parse_file(&name, &text, loader, notes, stack, depth)?;
        stack.pop();
        nodes.extend(included);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived::MemoryLoader;

    fn parse_str(text: &str) -> Vec<Node> {
        let mut notes = Vec::new();
        parse("k.conf", text, &MemoryLoader::default(), &mut notes).unwrap()
    }

    #[test]
    fn nesting_is_bounded_in_files_and_through_includes() {
        // Found by the keepalived_import fuzz target: 2,000 nested blocks overflowed a test
        // thread's stack. 64 levels parse, the 65th is an error at its `{`; 200,000 levels
        // are refused the same way, without recursing that deep.
        let nested = |n: usize| "a {\n".repeat(n) + &"}\n".repeat(n);
        let ok = parse_str(&nested(MAX_BLOCK_DEPTH));
        assert_eq!(ok.len(), 1);
        let mut notes = Vec::new();
        for n in [MAX_BLOCK_DEPTH + 1, 200_000] {
            let err =
                parse("k.conf", &nested(n), &MemoryLoader::default(), &mut notes).unwrap_err();
            assert_eq!(err.message, "blocks nested deeper than 64");
            assert_eq!((err.pos.line, err.pos.column), (MAX_BLOCK_DEPTH + 1, 3));
        }
        // An include inside blocks counts the blocks around it.
        let mut loader = MemoryLoader::default();
        loader
            .files
            .insert("/etc/keepalived/in.conf".into(), nested(2));
        let main = "a {\n".repeat(MAX_BLOCK_DEPTH - 1)
            + "include in.conf\n"
            + &"}\n".repeat(MAX_BLOCK_DEPTH - 1);
        let err = parse("/etc/keepalived/k.conf", &main, &loader, &mut notes).unwrap_err();
        assert_eq!(err.message, "blocks nested deeper than 64");
        assert_eq!(&*err.pos.file, "/etc/keepalived/in.conf");
    }

    #[test]
    fn blocks_comments_and_quotes() {
        let nodes = parse_str(
            "! comment\nglobal_defs {\n  router_id r1 # trailing\n}\nvrrp_script chk {\n script \"/bin/check 'a b'\"\n}\nvirtual_ipaddress { 192.0.2.1/24 dev eth0 }\n",
        );
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0].name.text, "global_defs");
        let g = nodes[0].block.as_ref().unwrap();
        assert_eq!(g[0].name.text, "router_id");
        assert_eq!(g[0].args[0].text, "r1");
        assert_eq!(g[0].args.len(), 1);
        let s = nodes[1].block.as_ref().unwrap();
        assert_eq!(s[0].args[0].text, "/bin/check 'a b'");
        assert_eq!(s[0].pos().line, 6);
        let v = nodes[2].block.as_ref().unwrap();
        assert_eq!(v[0].name.text, "192.0.2.1/24");
        assert_eq!(v[0].args.len(), 2);
    }

    #[test]
    fn brace_on_the_next_line() {
        let nodes = parse_str("vrrp_instance VI_1\n{\n  priority 100\n}\n");
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].block.as_ref().unwrap()[0].args[0].text, "100");
    }

    #[test]
    fn unbalanced_braces_are_errors_with_positions() {
        let mut notes = Vec::new();
        let e = parse("k.conf", "a {\n b\n", &MemoryLoader::default(), &mut notes).unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (1, 3));
        let e = parse("k.conf", "a\n}\n", &MemoryLoader::default(), &mut notes).unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (2, 1));
        let e = parse("k.conf", "a \"open\n", &MemoryLoader::default(), &mut notes).unwrap_err();
        assert_eq!(e.pos.line, 1);
    }

    #[test]
    fn includes_are_spliced_and_cycles_stopped() {
        let mut loader = MemoryLoader::default();
        loader
            .files
            .insert("/etc/k/main.conf".into(), "include conf.d/*.conf\n".into());
        loader
            .files
            .insert("/etc/k/conf.d/a.conf".into(), "router_id a\n".into());
        loader
            .files
            .insert("/etc/k/conf.d/b.conf".into(), "router_id b\n".into());
        let mut notes = Vec::new();
        let nodes = parse(
            "/etc/k/main.conf",
            "include conf.d/*.conf\n",
            &loader,
            &mut notes,
        )
        .unwrap();
        let ids: Vec<&str> = nodes.iter().map(|n| n.args[0].text.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(&*nodes[1].pos().file, "/etc/k/conf.d/b.conf");

        loader
            .files
            .insert("/etc/k/loop.conf".into(), "include loop.conf\n".into());
        let e = parse(
            "/etc/k/loop.conf",
            "include loop.conf\n",
            &loader,
            &mut notes,
        )
        .unwrap_err();
        assert!(e.message.contains("includes itself"), "{}", e.message);
    }
}
