@fragment
fn main() -> @location(0) vec4<f32> {
    let color = mix(vec3<f32>(1.0, 