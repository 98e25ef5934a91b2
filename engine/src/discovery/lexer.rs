//! Just enough of a PHP lexer to read class declarations without running PHP: namespaces, `use`
//! imports, and `class`/`interface` headers with their `extends`/`implements` lists. Comments,
//! strings, heredocs and attributes are skipped so their contents never look like code.

/// A class or interface declared in a file, with names resolved to fully qualified form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Declaration {
    pub name: String,
    pub kind: Kind,
    pub is_abstract: bool,
    /// `extends` (one parent for a class; any number for an interface).
    pub extends: Vec<String>,
    pub implements: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Class,
    Interface,
}

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Name(&'a str),
    Punct(u8),
    /// `::`, so that `Foo::class` is not a declaration.
    DoubleColon,
}

/// Splits PHP source into names and punctuation, dropping everything else.
fn tokens(src: &str) -> Vec<Token<'_>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Skip inline HTML before the first open tag.
    if let Some(start) = src.find("<?php") {
        i = start + 5;
    }
    while i < b.len() {
        let c = b[i];
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => i = skip_line(b, i),
            b'#' if b.get(i + 1) == Some(&b'[') => i = skip_balanced(b, i + 1, b'[', b']'),
            b'#' => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2);
            }
            b'\'' | b'"' | b'`' => i = skip_quoted(b, i),
            b'<' if b[i..].starts_with(b"<<<") => i = skip_heredoc(b, i),
            b'?' if b.get(i + 1) == Some(&b'>') => {
                // Back to HTML until the next open tag.
                i = find(b, i + 2, b"<?php").map_or(b.len(), |p| p + 5);
            }
            b':' if b.get(i + 1) == Some(&b':') => {
                out.push(Token::DoubleColon);
                i += 2;
            }
            b'{' | b'}' | b';' | b',' | b'(' | b')' | b'=' => {
                out.push(Token::Punct(c));
                i += 1;
            }
            c if c == b'\\' || c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                let start = i;
                while i < b.len() && (b[i] == b'\\' || b[i] == b'_' || b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
                    i += 1;
                }
                out.push(Token::Name(&src[start..i]));
            }
            b'$' => {
                // Variables are never names we care about.
                i += 1;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= b.len() {
        return None;
    }
    b[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

fn skip_line(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        // A `?>` ends a line comment too.
        if b[i] == b'?' && b.get(i + 1) == Some(&b'>') {
            return i;
        }
        i += 1;
    }
    i
}

fn skip_quoted(b: &[u8], start: usize) -> usize {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn skip_balanced(b: &[u8], start: usize, open: u8, close: u8) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                i = skip_quoted(b, i);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// `<<<ID`, `<<<"ID"` or `<<<'ID'` … up to a line whose first non-blank text is `ID`.
fn skip_heredoc(b: &[u8], start: usize) -> usize {
    let mut i = start + 3;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
        i += 1;
    }
    let id_start = i;
    while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
        i += 1;
    }
    let id = &b[id_start..i];
    if id.is_empty() {
        return start + 3;
    }
    while i < b.len() {
        let line_start = match find(b, i, b"\n") {
            Some(p) => p + 1,
            None => return b.len(),
        };
        let mut j = line_start;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if b[j..].starts_with(id) {
            let after = b.get(j + id.len()).copied().unwrap_or(b'\n');
            if !(after == b'_' || after.is_ascii_alphanumeric()) {
                return j + id.len();
            }
        }
        i = line_start;
    }
    b.len()
}

/// The class and interface declarations of one PHP file.
pub fn declarations(src: &str) -> Vec<Declaration> {
    let toks = tokens(src);
    let mut out = Vec::new();
    let mut namespace = String::new();
    let mut imports: Vec<(String, String)> = Vec::new(); // (alias lowercased, fully qualified)
    let mut depth = 0usize;
    // Depth of a `namespace X { … }` block's body, so its top level counts as top level.
    let mut namespace_depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Punct(b'{') => depth += 1,
            Token::Punct(b'}') => depth = depth.saturating_sub(1),
            Token::Name(word) if word.eq_ignore_ascii_case("namespace") && depth == 0 => {
                if let Some(Token::Name(name)) = toks.get(i + 1) {
                    namespace = name.trim_start_matches('\\').to_owned();
                    imports.clear();
                    i += 2;
                    if toks.get(i) == Some(&Token::Punct(b'{')) {
                        depth += 1;
                        namespace_depth = depth;
                    }
                    i += 1;
                    continue;
                }
                if toks.get(i + 1) == Some(&Token::Punct(b'{')) {
                    // The global namespace in braces.
                    namespace.clear();
                    imports.clear();
                    depth += 1;
                    namespace_depth = depth;
                    i += 2;
                    continue;
                }
            }
            Token::Name(word) if word.eq_ignore_ascii_case("use") && depth == namespace_depth => {
                i = read_use(&toks, i + 1, &mut imports);
                continue;
            }
            Token::Name(word) => {
                let lower = word.to_ascii_lowercase();
                let kind = match lower.as_str() {
                    "class" => Some(Kind::Class),
                    "interface" => Some(Kind::Interface),
                    _ => None,
                };
                let prev = i.checked_sub(1).map(|p| &toks[p]);
                let anonymous_or_constant = matches!(prev, Some(Token::DoubleColon))
                    || matches!(prev, Some(Token::Name(w)) if w.eq_ignore_ascii_case("new"));
                if let (Some(kind), false) = (kind, anonymous_or_constant) {
                    if let Some(Token::Name(name)) = toks.get(i + 1) {
                        let is_abstract = modifiers_before(&toks, i).iter().any(|m| m.eq_ignore_ascii_case("abstract"));
                        let (decl, next) = read_header(&toks, i + 2, kind, name, is_abstract, &namespace, &imports);
                        out.push(decl);
                        i = next;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn modifiers_before<'a>(toks: &[Token<'a>], at: usize) -> Vec<&'a str> {
    let mut mods = Vec::new();
    let mut j = at;
    while j > 0 {
        j -= 1;
        match &toks[j] {
            Token::Name(w) if ["abstract", "final", "readonly"].iter().any(|m| w.eq_ignore_ascii_case(m)) => {
                mods.push(*w)
            }
            _ => break,
        }
    }
    mods
}

fn read_header(
    toks: &[Token<'_>],
    mut i: usize,
    kind: Kind,
    name: &str,
    is_abstract: bool,
    namespace: &str,
    imports: &[(String, String)],
) -> (Declaration, usize) {
    let mut decl = Declaration {
        name: qualify_declared(name, namespace),
        kind,
        is_abstract,
        extends: Vec::new(),
        implements: Vec::new(),
    };
    let mut list: Option<&mut Vec<String>> = None;
    while i < toks.len() {
        match &toks[i] {
            Token::Punct(b'{') | Token::Punct(b';') => break,
            Token::Name(w) if w.eq_ignore_ascii_case("extends") => list = Some(&mut decl.extends),
            Token::Name(w) if w.eq_ignore_ascii_case("implements") => list = Some(&mut decl.implements),
            Token::Name(w) => {
                if let Some(l) = list.as_deref_mut() {
                    l.push(resolve(w, namespace, imports));
                }
            }
            _ => {}
        }
        i += 1;
    }
    (decl, i)
}

/// Reads one `use` statement at the top level and records its imports.
fn read_use(toks: &[Token<'_>], mut i: usize, imports: &mut Vec<(String, String)>) -> usize {
    // `use function …` and `use const …` import no classes.
    if let Some(Token::Name(w)) = toks.get(i) {
        if w.eq_ignore_ascii_case("function") || w.eq_ignore_ascii_case("const") {
            while i < toks.len() && toks[i] != Token::Punct(b';') {
                i += 1;
            }
            return i + 1;
        }
    }
    let mut prefix = String::new();
    let mut current: Option<String> = None;
    let mut alias_next = false;
    let mut in_group = false;
    let add = |full: &str, alias: Option<&str>, imports: &mut Vec<(String, String)>| {
        let full = full.trim_start_matches('\\').to_owned();
        let alias = alias.map(str::to_owned).unwrap_or_else(|| full.rsplit('\\').next().unwrap_or(&full).to_owned());
        imports.push((alias.to_ascii_lowercase(), full));
    };
    while i < toks.len() {
        match &toks[i] {
            Token::Punct(b';') => {
                if let Some(c) = current.take() {
                    add(&c, None, imports);
                }
                return i + 1;
            }
            Token::Punct(b'{') => {
                in_group = true;
                prefix = current.take().unwrap_or_default();
                if !prefix.ends_with('\\') {
                    prefix.push('\\');
                }
            }
            Token::Punct(b'}') => {
                if let Some(c) = current.take() {
                    add(&c, None, imports);
                }
                in_group = false;
            }
            Token::Punct(b',') => {
                if let Some(c) = current.take() {
                    add(&c, None, imports);
                }
            }
            Token::Name(w) if w.eq_ignore_ascii_case("as") => alias_next = true,
            Token::Name(w) if alias_next => {
                if let Some(c) = current.take() {
                    add(&c, Some(w), imports);
                }
                alias_next = false;
            }
            Token::Name(w)
                if !(in_group && (w.eq_ignore_ascii_case("function") || w.eq_ignore_ascii_case("const"))) =>
            {
                current = Some(if in_group { format!("{prefix}{w}") } else { (*w).to_owned() });
            }
            _ => {}
        }
        i += 1;
    }
    i
}

fn qualify_declared(name: &str, namespace: &str) -> String {
    if namespace.is_empty() { name.to_owned() } else { format!("{namespace}\\{name}") }
}

/// Resolves a class name as PHP does at compile time.
fn resolve(name: &str, namespace: &str, imports: &[(String, String)]) -> String {
    if let Some(abs) = name.strip_prefix('\\') {
        return abs.to_owned();
    }
    if let Some(rest) = name.strip_prefix("namespace\\") {
        return qualify_declared(rest, namespace);
    }
    let (first, rest) = match name.split_once('\\') {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    if let Some((_, full)) = imports.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(first)) {
        return match rest {
            Some(r) => format!("{full}\\{r}"),
            None => full.clone(),
        };
    }
    qualify_declared(name, namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Declaration {
        let mut d = declarations(src);
        assert_eq!(d.len(), 1, "{d:?}");
        d.remove(0)
    }

    #[test]
    fn reads_a_worker_with_imports() {
        let d = one(r#"<?php
            namespace Shop\Workers;

            use Seiger\sTask\Workers\BaseWorker;
            use Seiger\sTask\Models\sTaskModel as Task;

            /** class Fake extends Nothing */
            final class ProductWorker extends BaseWorker implements \Countable, Contracts\Thing
            {
                public function taskImport(Task $task): void { $x = "class Bogus extends Y"; }
            }"#);
        assert_eq!(d.name, "Shop\\Workers\\ProductWorker");
        assert_eq!(d.kind, Kind::Class);
        assert!(!d.is_abstract);
        assert_eq!(d.extends, ["Seiger\\sTask\\Workers\\BaseWorker"]);
        assert_eq!(d.implements, ["Countable", "Shop\\Workers\\Contracts\\Thing"]);
    }

    #[test]
    fn group_use_aliases_and_abstract() {
        let d = one(r#"<?php namespace A; use Seiger\sTask\{Workers\BaseWorker as W, Models\sWorker};
            abstract class Base extends W {}"#);
        assert_eq!(d.extends, ["Seiger\\sTask\\Workers\\BaseWorker"]);
        assert!(d.is_abstract);
    }

    #[test]
    fn ignores_strings_comments_heredocs_constants_and_anonymous_classes() {
        let src = r#"<?php
            namespace X;
            // class InComment extends A {}
            # class InHash extends A {}
            /* class InBlock extends A {} */
            $a = 'class InSingle extends A {}';
            $b = "class InDouble extends \"A\" {}";
            $c = <<<EOT
            class InHeredoc extends A {}
            EOT;
            $d = <<<'NOW'
              class InNowdoc extends A {}
              NOW;
            $e = Foo::class;
            $f = new class extends Bar {};
            #[Attribute(Attribute::TARGET_CLASS)]
            class Real extends Base {}
        "#;
        let d = declarations(src);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].name, "X\\Real");
        assert_eq!(d[0].extends, ["X\\Base"]);
    }

    #[test]
    fn interfaces_braced_namespaces_and_trait_use() {
        let src = r#"<?php
            namespace One { use Seiger\sTask\Contracts\TaskInterface; interface Runs extends TaskInterface, \Countable {} }
            namespace Two { class Job implements \One\Runs { use SomeTrait; } }
        "#;
        let d = declarations(src);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].kind, Kind::Interface);
        assert_eq!(d[0].extends, ["Seiger\\sTask\\Contracts\\TaskInterface", "Countable"]);
        assert_eq!(d[1].name, "Two\\Job");
        assert_eq!(d[1].implements, ["One\\Runs"]);
    }

    #[test]
    fn global_namespace_and_namespace_relative_names() {
        let d = declarations("<?php class G extends namespace\\Base {}\n");
        assert_eq!(d[0].name, "G");
        assert_eq!(d[0].extends, ["Base"]);
        let d = declarations(
            "<?php namespace N; use function strlen; use const X; class C extends namespace\\Sub\\Base {}",
        );
        assert_eq!(d[0].extends, ["N\\Sub\\Base"]);
    }
}
