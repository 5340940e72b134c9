pub fn demo_trail() -> Vec<u8> {
    Vec::new()
}
