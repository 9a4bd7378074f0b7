//! The policy parser and compiler on arbitrary text: never panic; a compiled policy evaluates
//! a request without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailreplay::eval::{evaluate, Context, PolicyStack, Request, Resource, TagState};
use trailreplay::policy::compile_text;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let c = compile_text("fuzz.json", text);
    if let Some(p) = c.policy {
        assert!(c.errors.is_empty());
        let mut ctx = Context::new(true);
        ctx.set("aws:username", "alice");
        let req = Request::new(
            "ssm:StartSession",
            vec![Resource::new("arn:aws:ec2:us-east-1:1:instance/i-1", TagState::Unknown)],
            ctx,
        );
        let stack = PolicyStack { identity: vec![&p], ..PolicyStack::default() };
        let _ = evaluate(&stack, &req, &TagState::Unknown);
    }
});
