//! The OAuth pages' query and `Cookie` parsing: the install link (`?t=`), Slack's callback
//! (`?code=&state=&error=`) and the state cookie.
#![no_main]

use approvals_core::usecases::install::{cookie_value, single_valued_query, STATE_COOKIE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let (query, cookies) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(values) = single_valued_query(query) {
        let _ = (values.get("t"), values.get("code"), values.get("state"));
    }
    let _ = cookie_value(cookies.split('\n'), STATE_COOKIE);
});
