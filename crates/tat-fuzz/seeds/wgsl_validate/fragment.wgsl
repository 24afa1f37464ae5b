@fragment
fn main(@builtin(position) p: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = p.xy / vec2<f32>(800.0, 600.0);
    return vec4<f32>(uv, 0.5, 1.0);
}
