fn f(x: f32) -> f32 {
    return g(x);
}
fn g(x: f32) -> f32 { return x; }
