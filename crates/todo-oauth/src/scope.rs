//! The scopes of todo-mcp's tools: `tasks:read` (list and get) and `tasks:write` (add,
//! update, complete, delete). Space-delimited on the wire (RFC 6749 §3.3).

use serde::{Deserialize, Serialize};

/// One scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "tasks:read")]
    TasksRead,
    #[serde(rename = "tasks:write")]
    TasksWrite,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::TasksRead, Scope::TasksWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// What a person sees on the consent page.
    pub fn description(self) -> &'static str {
        match self {
            Scope::TasksRead => "See your tasks",
            Scope::TasksWrite => "Add, change, complete and delete your tasks",
        }
    }

    /// The scope an MCP tool needs; `None` for a name that is not one of todo-mcp's tools
    /// (the MCP server answers those with its own "unknown tool" error, touching no data).
    pub fn for_tool(tool: &str) -> Option<Scope> {
        match tool {
            "list_tasks" | "get_task" => Some(Scope::TasksRead),
            "add_task" | "update_task" | "complete_task" | "delete_task" => Some(Scope::TasksWrite),
            _ => None,
        }
    }
}

/// A set of scopes (small, ordered, no duplicates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn all() -> Scopes {
        Scopes(Scope::ALL.to_vec())
    }

    /// Parses a space-delimited `scope` value. An unknown scope is an error naming it
    /// (`invalid_scope`); an empty value is the empty set.
    pub fn parse(raw: &str) -> Result<Scopes, String> {
        let mut out = Vec::new();
        for s in raw.split(' ').filter(|s| !s.is_empty()) {
            let scope = Scope::parse(s).ok_or_else(|| {
                format!("unknown scope {s:?}; this server offers tasks:read and tasks:write")
            })?;
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        out.sort();
        Ok(Scopes(out))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Whether every scope of `self` is in `other` (a refresh may narrow, never widen).
    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(*s))
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print_and_tool_mapping() {
        let s = Scopes::parse("tasks:write  tasks:read tasks:write").unwrap_or_default();
        assert_eq!(s.to_string(), "tasks:read tasks:write");
        assert!(Scopes::parse("tasks:read admin").is_err());
        assert!(Scopes::parse("").is_ok_and(|s| s.is_empty()));
        let read = Scopes::parse("tasks:read").unwrap_or_default();
        assert!(read.is_subset(&Scopes::all()));
        assert!(!Scopes::all().is_subset(&read));
        assert_eq!(Scope::for_tool("list_tasks"), Some(Scope::TasksRead));
        assert_eq!(Scope::for_tool("get_task"), Some(Scope::TasksRead));
        for w in ["add_task", "update_task", "complete_task", "delete_task"] {
            assert_eq!(Scope::for_tool(w), Some(Scope::TasksWrite), "{w}");
        }
        assert_eq!(Scope::for_tool("nope"), None);
    }
}
