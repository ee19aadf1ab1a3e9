//! Block Kit validation with Slack's documented limits; failures are `invalid_blocks`.

use serde_json::Value;

pub const MAX_MESSAGE_TEXT: usize = 40_000;

/// Slack's undocumented cap on the text of all blocks together, which it reports as
/// `msg_blocks_too_long` (slackapi/bolt-js#2509): observed between 12 000 and 13 200
/// characters, so the sandbox refuses at the low end.
pub const MAX_CUMULATIVE_BLOCK_TEXT: usize = 12_000;

/// Characters of every `text` string inside the blocks, however deeply nested.
pub fn block_text_chars(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(block_text_chars).sum(),
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) if key == "text" => text.chars().count(),
                other => block_text_chars(other),
            })
            .sum(),
        _ => 0,
    }
}

/// Why Slack would refuse these blocks (the sandbox answers `invalid_blocks`).
pub fn validate_blocks(blocks: &Value, max_blocks: usize) -> Result<(), String> {
    let blocks = blocks.as_array().ok_or("blocks must be an array")?;
    if blocks.len() > max_blocks {
        return Err(format!("more than {max_blocks} blocks"));
    }
    for (index, block) in blocks.iter().enumerate() {
        validate_block(block).map_err(|e| format!("blocks[{index}]: {e}"))?;
    }
    Ok(())
}

fn chars(value: &Value) -> usize {
    value.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

fn text_object(value: &Value, max: usize, what: &str) -> Result<(), String> {
    let kind = value["type"]
        .as_str()
        .ok_or(format!("{what}: missing type"))?;
    if kind != "plain_text" && kind != "mrkdwn" {
        return Err(format!("{what}: unknown text type {kind}"));
    }
    let text = value["text"]
        .as_str()
        .ok_or(format!("{what}: missing text"))?;
    if text.is_empty() {
        return Err(format!("{what}: empty text"));
    }
    if text.chars().count() > max {
        return Err(format!("{what}: longer than {max}"));
    }
    Ok(())
}

fn id_field(block: &Value, name: &str) -> Result<(), String> {
    if chars(&block[name]) > 255 {
        return Err(format!("{name} longer than 255"));
    }
    Ok(())
}

fn validate_block(block: &Value) -> Result<(), String> {
    id_field(block, "block_id")?;
    match block["type"].as_str().unwrap_or_default() {
        "header" => {
            text_object(&block["text"], 150, "header text")?;
            if block["text"]["type"] != "plain_text" {
                return Err("header text must be plain_text".into());
            }
        }
        "section" => {
            let has_text = !block["text"].is_null();
            let fields = block["fields"].as_array();
            if !has_text && fields.is_none() {
                return Err("section needs text or fields".into());
            }
            if has_text {
                text_object(&block["text"], 3000, "section text")?;
            }
            if let Some(fields) = fields {
                if fields.len() > 10 {
                    return Err("more than 10 fields".into());
                }
                for field in fields {
                    text_object(field, 2000, "section field")?;
                }
            }
            if !block["accessory"].is_null() {
                validate_element(&block["accessory"])?;
            }
        }
        "context" => {
            let elements = block["elements"]
                .as_array()
                .ok_or("context needs elements")?;
            if elements.is_empty() || elements.len() > 10 {
                return Err("context needs 1 to 10 elements".into());
            }
            for element in elements {
                if element["type"] != "image" {
                    text_object(element, 2000, "context element")?;
                }
            }
        }
        "actions" => {
            let elements = block["elements"]
                .as_array()
                .ok_or("actions needs elements")?;
            if elements.is_empty() || elements.len() > 25 {
                return Err("actions needs 1 to 25 elements".into());
            }
            for element in elements {
                validate_element(element)?;
            }
        }
        "divider" => {}
        "image" => {
            if chars(&block["image_url"]) == 0 || chars(&block["alt_text"]) == 0 {
                return Err("image needs image_url and alt_text".into());
            }
        }
        "input" => {
            text_object(&block["label"], 2000, "input label")?;
            if block["element"].is_null() {
                return Err("input needs an element".into());
            }
        }
        other => return Err(format!("unknown block type {other:?}")),
    }
    Ok(())
}

fn validate_element(element: &Value) -> Result<(), String> {
    id_field(element, "action_id")?;
    match element["type"].as_str().unwrap_or_default() {
        "button" => {
            text_object(&element["text"], 75, "button text")?;
            if chars(&element["value"]) > 2000 {
                return Err("button value longer than 2000".into());
            }
            if chars(&element["url"]) > 3000 {
                return Err("button url longer than 3000".into());
            }
            if let Some(style) = element["style"].as_str() {
                if style != "primary" && style != "danger" {
                    return Err(format!("unknown button style {style}"));
                }
            }
            Ok(())
        }
        "plain_text_input" | "static_select" | "users_select" | "datepicker" | "overflow"
        | "image" => Ok(()),
        other => Err(format!("unknown element type {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slacks_limits_are_enforced() {
        let header =
            |n: usize| json!([{"type":"header","text":{"type":"plain_text","text":"h".repeat(n)}}]);
        assert!(validate_blocks(&header(150), 50).is_ok());
        assert!(validate_blocks(&header(151), 50).is_err());
        let fields: Vec<_> = (0..11)
            .map(|_| json!({"type":"mrkdwn","text":"x"}))
            .collect();
        assert!(validate_blocks(&json!([{"type":"section","fields":fields}]), 50).is_err());
        let many: Vec<_> = (0..51).map(|_| json!({"type":"divider"})).collect();
        assert!(validate_blocks(&json!(many), 50).is_err());
        let button = json!([{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"b".repeat(76)}}]}]);
        assert!(validate_blocks(&button, 50).is_err());
    }
}
