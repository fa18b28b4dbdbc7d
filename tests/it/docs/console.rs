//! The README's executed sections, read: the `console` blocks of one `## ` section parsed into the
//! commands they show (`$ ` lines, with `\` continuations) and the output lines shown under each.
//! Used by `grpcurl.rs` and `http/readme.rs`, which each decide how a shown line matches.

/// One documented command and the output lines shown for it (trimmed, blank lines left out).
#[derive(Debug, PartialEq)]
pub struct Step {
    pub command: String,
    pub shown: Vec<String>,
}

/// The `console` blocks of `section` in `markdown`, as steps.
pub fn steps(markdown: &str, section: &str) -> Vec<Step> {
    let start = markdown
        .find(section)
        .unwrap_or_else(|| panic!("README has no {section:?} section"));
    let body = &markdown[start + section.len()..];
    let body = body.find("\n## ").map_or(body, |end| &body[..end]);
    let mut steps: Vec<Step> = Vec::new();
    let (mut in_block, mut continuing) = (false, false);
    for line in body.lines() {
        if line.starts_with("```") {
            in_block = !in_block && line.trim() == "```console";
            continuing = false;
        } else if !in_block {
        } else if continuing {
            let step = steps.last_mut().expect("a continued command");
            step.command.push('\n');
            step.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                shown: Vec::new(),
            });
            continuing = command.ends_with('\\');
        } else if let Some(step) = steps.last_mut().filter(|_| !line.trim().is_empty()) {
            step.shown.push(line.trim().to_owned());
        }
    }
    steps
}

#[test]
fn the_section_parser_reads_commands_and_output() {
    let md = "## Walk\n```console\n$ tool a \\\n    b\n{\n  \"x\": 1,\n\n  ...\n}\n\n$ tool c\n```\n```sh\n$ not run\n```\n## Next\n```console\n$ nor this\n```\n";
    let steps = steps(md, "## Walk");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].command, "tool a \\\n    b");
    assert_eq!(steps[0].shown, ["{", "\"x\": 1,", "...", "}"]);
    assert_eq!(steps[1].command, "tool c");
    assert!(steps[1].shown.is_empty());
}
