//! Zabbix item keys (`vfs.fs.size[/,free]`): how a script declares the key its value is
//! named by (`argus-key:`, read with the other declarations in [`super::format`]), and
//! what [`super::zabbix`] names the value after.

/// An item key: its name and its parameters, unquoted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub params: Vec<String>,
}

impl Key {
    /// The key of a script that declares none: its name, without parameters.
    pub(crate) fn plain(name: &str) -> Key {
        Key {
            name: name.to_string(),
            params: Vec::new(),
        }
    }
}

/// Parses an item key as Zabbix writes them: the name is `[0-9a-zA-Z_.-]`; a parameter is
/// quoted (`"..."`, where `\"` is a quote) or runs to the next `,` or `]`, with spaces
/// before it ignored. Nested arrays (`[a,[b,c]]`) are refused.
pub(crate) fn parse_key(key: &str) -> Result<Key, String> {
    let (name, rest) = key.split_once('[').unwrap_or((key, ""));
    if name.is_empty() {
        return Err("the key has no name".to_string());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "{bad:?} in the key's name (allowed: letters, digits, _ . -)"
        ));
    }
    let mut params = Vec::new();
    if key.contains('[') {
        let Some(inner) = rest.strip_suffix(']') else {
            return Err("the parameters do not end with ']'".to_string());
        };
        let mut chars = inner.chars().peekable();
        loop {
            while chars.next_if(|c| *c == ' ').is_some() {}
            let mut param = String::new();
            if chars.next_if_eq(&'"').is_some() {
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if chars.peek() == Some(&'"') => {
                            chars.next();
                            param.push('"');
                        }
                        Some(c) => param.push(c),
                        None => return Err("unterminated quote in the parameters".to_string()),
                    }
                }
                while chars.next_if(|c| *c == ' ').is_some() {}
                if !matches!(chars.peek(), None | Some(',')) {
                    return Err(format!(
                        "parameter {} has text after its closing quote",
                        params.len() + 1
                    ));
                }
            } else {
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    if c == '[' || c == ']' {
                        return Err(format!(
                            "parameter {}: nested arrays are not supported",
                            params.len() + 1
                        ));
                    }
                    param.push(c);
                }
            }
            params.push(param);
            if chars.next().is_none() {
                break;
            }
        }
    }
    Ok(Key {
        name: name.to_string(),
        params,
    })
}
