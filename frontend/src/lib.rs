//! The browser entry point. The pages are rendered on the server; only the islands (the
//! parts that react to typing and clicks: password fields with their strength meter, the copy
//! button) run here (Leptos "islands" mode), which keeps the bundle small.

// Linked for its islands: each is a wasm-bindgen export the loader script calls.
extern crate gatehouse_app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // The loader hydrates the islands right after this returns (promise callbacks, before any
    // timer fires): mark the page once that is done, for CSS (`.js-only` controls) and tests.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
