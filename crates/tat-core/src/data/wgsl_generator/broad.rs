//! The intents only the broad dataset has: what people ask for beyond single expressions and the
//! template shaders (functions with parameters and a return type, structs, uniform, storage and
//! texture bindings, statements, whole modules wrapped around a snippet the request quotes), and
//! the shaders of the template set asked for without every detail (no workgroup size, binding or
//! location named), which then take the conventional one (`64`, group 0 binding 0, location 0).
//!
//! The same rules as the template intents hold: everything in the code is stated by the request
//! or is a fixed convention of the intent, numbers are written the same way in both, and slots
//! make the held-out split (see the parent module).

use super::{compute_operations, Color, Intent, COLORS, FRAGMENT_CONSTANT, FRAGMENT_TEXTURE, FRAGMENT_UV, LUMA};

pub(super) fn intents() -> Vec<Intent> {
    vec![
        scalar_functions(),
        named_functions(),
        structs(),
        uniform_bindings(),
        storage_bindings(),
        texture_bindings(),
        uniform_struct_bindings(),
        declarations(),
        updates(),
        conditionals(),
        loops(),
        wrapped_fragments(),
        wrapped_vertices(),
        wrapped_computes(),
        plain_computes(),
        plain_textures(),
        plain_solid_fragments(),
        plain_vertices(),
    ]
}

// --- functions -------------------------------------------------------------------------------

/// One-argument `f32` functions: (operation, verb phrase, noun phrase, the body's expression of `x`).
const SCALAR_OPERATIONS: [(&str, &str, &str, &str); 9] = [
    ("square", "squares", "the square of", "x * x"),
    ("cube", "cubes", "the cube of", "x * x * x"),
    ("double", "doubles", "twice", "x * 2.0"),
    ("halve", "halves", "half of", "x * 0.5"),
    ("negate", "negates", "the negative of", "-x"),
    ("reciprocal", "inverts", "one over", "1.0 / x"),
    ("saturate", "clamps to 0..1", "the 0..1 clamp of", "clamp(x, 0.0, 1.0)"),
    ("one_minus", "subtracts from one", "one minus", "1.0 - x"),
    ("ease", "eases with a smoothstep from 0 to 1", "the smoothstep from 0 to 1 of", "smoothstep(0.0, 1.0, x)"),
];

fn scalar_functions() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Write a function {name} that {verb} a float x",
        "Create a WGSL function named {name} returning {noun} its f32 argument x",
        "fn {name}(x: f32) -> f32 that returns {noun} x",
        "Define a function called {name} which takes a float x and {verb} it",
    ];
    const CODE: &str = "fn {name}(x: f32) -> f32 {\n    return {body};\n}";
    let mut intent = Intent::new("function_scalar", "function", &["operation", "name"]);
    for (operation, verb, noun, body) in SCALAR_OPERATIONS {
        for name in [operation, "f", "apply", "transform"] {
            let vars = [("name", name), ("verb", verb), ("noun", noun), ("body", body)];
            intent.add(&[operation, name], &TEMPLATES, CODE, &vars);
        }
    }
    intent
}

/// Functions of vectors and colors, each with its conventional name: (name, what it does, code).
fn named_function_list() -> Vec<(&'static str, &'static str, String)> {
    let function = |signature: &str, body: &str| format!("fn {{name}}({signature} {{\n{body}\n}}");
    vec![
        (
            "luminance",
            "computes the luminance of an RGB color",
            function("color: vec3<f32>) -> f32", &format!("    return dot(color, {LUMA});")),
        ),
        (
            "grayscale",
            "converts an RGB color to grayscale",
            function("color: vec3<f32>) -> vec3<f32>", &format!("    return vec3<f32>(dot(color, {LUMA}));")),
        ),
        (
            "invert",
            "inverts an RGB color",
            function("color: vec3<f32>) -> vec3<f32>", "    return vec3<f32>(1.0) - color;"),
        ),
        ("lerp", "linearly interpolates between a and b by t", function("a: f32, b: f32, t: f32) -> f32", "    return mix(a, b, t);")),
        ("average", "returns the average of two floats a and b", function("a: f32, b: f32) -> f32", "    return (a + b) * 0.5;")),
        ("max3", "returns the largest of three floats a, b and c", function("a: f32, b: f32, c: f32) -> f32", "    return max(a, max(b, c));")),
        ("min3", "returns the smallest of three floats a, b and c", function("a: f32, b: f32, c: f32) -> f32", "    return min(a, min(b, c));")),
        (
            "remap",
            "maps x from the range lo to hi onto 0 to 1",
            function("x: f32, lo: f32, hi: f32) -> f32", "    return (x - lo) / (hi - lo);"),
        ),
        ("dist", "returns the distance between two 2D points a and b", function("a: vec2<f32>, b: vec2<f32>) -> f32", "    return distance(a, b);")),
        (
            "circle",
            "returns the signed distance from a 2D point p to a circle of radius r",
            function("p: vec2<f32>, r: f32) -> f32", "    return length(p) - r;"),
        ),
        (
            "inside",
            "tells whether a 2D point p lies inside a circle of radius r",
            function("p: vec2<f32>, r: f32) -> bool", "    return length(p) < r;"),
        ),
        (
            "rotate",
            "rotates a 2D vector p by an angle in radians",
            function(
                "p: vec2<f32>, angle: f32) -> vec2<f32>",
                "    let c = cos(angle);\n    let s = sin(angle);\n    return vec2<f32>(c * p.x - s * p.y, s * p.x + c * p.y);",
            ),
        ),
        (
            "rand",
            "returns a pseudo-random float from a 2D seed p",
            function("p: vec2<f32>) -> f32", "    return fract(sin(dot(p, vec2<f32>(12.9898, 78.233))) * 43758.5453);"),
        ),
        (
            "gamma",
            "gamma-corrects a linear RGB color with gamma 2.2",
            function("color: vec3<f32>) -> vec3<f32>", "    return pow(color, vec3<f32>(1.0 / 2.2));"),
        ),
        (
            "brightness",
            "scales an RGB color by a brightness factor k",
            function("color: vec3<f32>, k: f32) -> vec3<f32>", "    return color * k;"),
        ),
    ]
}

/// Vector and color functions, under their conventional name or one the request gives.
fn named_functions() -> Intent {
    const GIVEN: [&str; 4] = [
        "Write a WGSL function {name} that {does}",
        "Create a function named {name} which {does}",
        "Define fn {name}: it {does}",
        "Implement a helper function called {name} that {does}",
    ];
    const CONVENTIONAL: [&str; 4] = [
        "Write a WGSL function that {does}",
        "Create a helper function which {does}",
        "Implement a function that {does}",
        "I need a function that {does}",
    ];
    let mut intent = Intent::new("function_named", "function", &["function", "name"]);
    for (conventional, does, code) in named_function_list() {
        for name in [conventional, "helper", "compute", "my_fn"] {
            let templates: &[&'static str] = if name == conventional { &CONVENTIONAL } else { &GIVEN };
            let value = if name == conventional { "conventional" } else { name };
            intent.add(&[conventional, value], templates, &code, &[("name", name), ("does", does)]);
        }
    }
    intent
}

// --- structs ---------------------------------------------------------------------------------

/// Struct fields: (name, type, how a request names the field with its type, the type in words).
const FIELDS: [(&str, &str, &str, &str); 12] = [
    ("position", "vec3<f32>", "a 3D position", "vec3<f32>"),
    ("velocity", "vec3<f32>", "a 3D velocity", "vec3<f32>"),
    ("color", "vec4<f32>", "an RGBA color", "vec4<f32>"),
    ("uv", "vec2<f32>", "2D texture coordinates uv", "vec2<f32>"),
    ("normal", "vec3<f32>", "a normal vector", "vec3<f32>"),
    ("time", "f32", "a float time", "f32"),
    ("intensity", "f32", "a float intensity", "f32"),
    ("radius", "f32", "a float radius", "f32"),
    ("count", "u32", "an unsigned integer count", "u32"),
    ("resolution", "vec2<f32>", "a 2D resolution", "vec2<f32>"),
    ("mass", "f32", "a float mass", "f32"),
    ("id", "u32", "an unsigned integer id", "u32"),
];

fn structs() -> Intent {
    const TWO: [&str; 4] = [
        "Define a struct {Name} with {w0} and {w1}",
        "Write a WGSL struct called {Name} holding {f0}: {t0} and {f1}: {t1}",
        "Declare a {Name} struct with fields {f0} ({t0}) and {f1} ({t1})",
        "Create a struct named {Name} that has {w0} and {w1}",
    ];
    const THREE: [&str; 4] = [
        "Define a struct {Name} with {w0}, {w1} and {w2}",
        "Write a WGSL struct called {Name} holding {f0}: {t0}, {f1}: {t1} and {f2}: {t2}",
        "Declare a {Name} struct with fields {f0} ({t0}), {f1} ({t1}) and {f2} ({t2})",
        "Create a struct named {Name} that has {w0}, {w1} and {w2}",
    ];
    let field_sets: [&[usize]; 10] =
        [&[0, 1], &[0, 2], &[0, 4], &[3, 2], &[5, 9], &[0, 6], &[0, 7], &[0, 1, 10], &[0, 4, 3], &[8, 11, 5]];
    let mut intent = Intent::new("struct", "struct", &["name", "fields"]);
    for name in ["Particle", "Light", "Params", "Vertex", "Settings", "Ball"] {
        for set in field_sets {
            let fields: Vec<_> = set.iter().map(|&i| FIELDS[i]).collect();
            let body: String = fields.iter().map(|(f, t, _, _)| format!("    {f}: {t},\n")).collect();
            let code = format!("struct {name} {{\n{body}}}");
            let mut vars: Vec<(String, String)> = vec![("Name".into(), name.into())];
            for (i, (f, _, words, t)) in fields.iter().enumerate() {
                vars.push((format!("f{i}"), f.to_string()));
                vars.push((format!("t{i}"), t.to_string()));
                vars.push((format!("w{i}"), words.to_string()));
            }
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let names: Vec<&str> = fields.iter().map(|(f, _, _, _)| *f).collect();
            let templates: &[&'static str] = if fields.len() == 2 { &TWO } else { &THREE };
            // `code` holds braces, which `add` would read as keys; it has none of the keys.
            intent.add(&[name, &names.join(" ")], templates, &code, &vars);
        }
    }
    intent
}

// --- bindings --------------------------------------------------------------------------------

fn uniform_bindings() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Declare a uniform {name} of type {ty} at group {g} binding {b}",
        "Bind a {words} uniform called {name} to @group({g}) @binding({b})",
        "uniform variable {name}: {ty} in group {g}, binding {b}",
        "Add a {words} uniform named {name} at binding {b} of group {g}",
    ];
    let uniforms = [
        ("time", "f32", "float"),
        ("scale", "f32", "float"),
        ("resolution", "vec2<f32>", "vec2"),
        ("mouse", "vec2<f32>", "vec2"),
        ("tint", "vec4<f32>", "vec4"),
        ("light_dir", "vec3<f32>", "vec3"),
    ];
    let mut intent = Intent::new("binding_uniform", "binding", &["uniform", "group", "binding"]);
    for (name, ty, words) in uniforms {
        for g in ["0", "1"] {
            for b in ["0", "1", "2"] {
                let code = "@group({g}) @binding({b}) var<uniform> {name}: {ty};";
                let vars = [("name", name), ("ty", ty), ("words", words), ("g", g), ("b", b)];
                intent.add(&[name, g, b], &TEMPLATES, code, &vars);
            }
        }
    }
    intent
}

fn storage_bindings() -> Intent {
    const READ: [&str; 4] = [
        "Declare a read-only storage buffer {name} of {element} at group 0 binding {b}",
        "Bind a storage array<{element}> called {name} for reading at @group(0) @binding({b})",
        "read only storage buffer {name}, an array of {element}, binding {b}",
        "Add a storage buffer named {name} holding {element} values, read access, at binding {b}",
    ];
    const READ_WRITE: [&str; 4] = [
        "Declare a read-write storage buffer {name} of {element} at group 0 binding {b}",
        "Bind a storage array<{element}> called {name} for reading and writing at @group(0) @binding({b})",
        "read write storage buffer {name}, an array of {element}, binding {b}",
        "Add a writable storage buffer named {name} holding {element} values at binding {b}",
    ];
    let mut intent = Intent::new("binding_storage", "binding", &["name", "element", "access", "binding"]);
    for name in ["data", "values", "input", "output", "counts"] {
        for element in ["f32", "u32", "vec4<f32>"] {
            for (access, templates) in [("read", READ), ("read_write", READ_WRITE)] {
                for b in ["0", "1", "2"] {
                    let code = "@group(0) @binding({b}) var<storage, {access}> {name}: array<{element}>;";
                    let vars = [("name", name), ("element", element), ("access", access), ("b", b)];
                    intent.add(&[name, element, access, b], &templates, code, &vars);
                }
            }
        }
    }
    intent
}

fn texture_bindings() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Declare a 2D texture {t} at group {g} binding {tb} and a sampler {s} at binding {sb}",
        "Bind a texture_2d<f32> named {t} to @group({g}) @binding({tb}) and a sampler named {s} to @binding({sb})",
        "texture {t} and sampler {s} in group {g}, bindings {tb} and {sb}",
        "Add the bindings for sampling a texture: {t} at binding {tb}, its sampler {s} at binding {sb}, group {g}",
    ];
    const CODE: &str = "\
@group({g}) @binding({tb}) var {t}: texture_2d<f32>;
@group({g}) @binding({sb}) var {s}: sampler;";
    let mut intent = Intent::new("binding_texture", "binding", &["names", "group", "bindings"]);
    for (t, s) in [
        ("t_diffuse", "s_diffuse"),
        ("tex", "samp"),
        ("albedo_texture", "albedo_sampler"),
        ("my_texture", "my_sampler"),
    ] {
        for g in ["0", "1"] {
            for (tb, sb) in [("0", "1"), ("1", "2"), ("2", "3")] {
                let vars = [("t", t), ("s", s), ("g", g), ("tb", tb), ("sb", sb)];
                intent.add(&[&format!("{t} {s}"), g, &format!("{tb} {sb}")], &TEMPLATES, CODE, &vars);
            }
        }
    }
    intent
}

fn uniform_struct_bindings() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Declare a uniform buffer {var} of a struct {Name} with a {field}: {ty} member, at group {g} binding {b}",
        "Bind a {Name} uniform block holding {field} ({ty}) to @group({g}) @binding({b}) as {var}",
        "struct {Name} with {field}: {ty}, bound as the uniform {var} at group {g}, binding {b}",
        "Create a uniform {var} of type {Name}, which has one field {field} of type {ty}, in group {g} at binding {b}",
    ];
    const CODE: &str = "\
struct {Name} {
    {field}: {ty},
}
@group({g}) @binding({b}) var<uniform> {var}: {Name};";
    let blocks = [
        ("Camera", "camera", "view_proj", "mat4x4<f32>"),
        ("Globals", "globals", "time", "f32"),
        ("Params", "params", "scale", "vec2<f32>"),
        ("Light", "light", "color", "vec3<f32>"),
        ("Transform", "transform", "model", "mat4x4<f32>"),
    ];
    let mut intent = Intent::new("binding_uniform_struct", "binding", &["block", "group", "binding"]);
    for (name, var, field, ty) in blocks {
        for g in ["0", "1"] {
            for b in ["0", "1", "2"] {
                let vars = [("Name", name), ("var", var), ("field", field), ("ty", ty), ("g", g), ("b", b)];
                intent.add(&[name, g, b], &TEMPLATES, CODE, &vars);
            }
        }
    }
    intent
}

// --- statements ------------------------------------------------------------------------------

const STATEMENT_NAMES: [&str; 5] = ["x", "speed", "scale", "offset", "total"];
const STATEMENT_VALUES: [&str; 4] = ["0.0", "0.5", "1.0", "2.5"];

fn declarations() -> Intent {
    const LET: [&str; 4] = [
        "Declare a constant {n} equal to {v}",
        "let {n} be {v}",
        "Make an immutable local {n} with the value {v}",
        "Bind {n} to {v} with let",
    ];
    const VAR: [&str; 4] = [
        "Declare a mutable variable {n} set to {v}",
        "var {n} starting at {v}",
        "Make a local variable {n} that can change, initialised to {v}",
        "Create a variable named {n} with initial value {v}",
    ];
    let mut intent = Intent::new("statement_declaration", "statement", &["keyword", "name", "value"]);
    for (keyword, templates) in [("let", LET), ("var", VAR)] {
        for n in STATEMENT_NAMES {
            for v in STATEMENT_VALUES {
                intent.add(
                    &[keyword, n, v],
                    &templates,
                    "{keyword} {n} = {v};",
                    &[("keyword", keyword), ("n", n), ("v", v)],
                );
            }
        }
    }
    intent
}

fn updates() -> Intent {
    let operations: [(&str, &str, [&'static str; 3]); 3] = [
        ("+=", "add", ["Add {v} to {n}", "Increase {n} by {v}", "increment {n} by {v} in place"]),
        ("-=", "subtract", ["Subtract {v} from {n}", "Decrease {n} by {v}", "decrement {n} by {v} in place"]),
        ("*=", "multiply", ["Multiply {n} by {v}", "Scale {n} by {v} in place", "{n} times equals {v}"]),
    ];
    let mut intent = Intent::new("statement_update", "statement", &["operation", "name", "value"]);
    for (op, operation, templates) in &operations {
        for n in STATEMENT_NAMES {
            for v in ["0.5", "1.0", "2.5", "2.0"] {
                intent.add(&[operation, n, v], templates, "{n} {op} {v};", &[("n", n), ("op", op), ("v", v)]);
            }
        }
    }
    intent
}

fn conditionals() -> Intent {
    const ABOVE: [&str; 3] = [
        "If {n} is greater than {v}, set it to {v}",
        "Cap {n} at {v} with an if statement",
        "if {n} > {v} then {n} = {v}",
    ];
    const BELOW: [&str; 3] = [
        "If {n} is less than {v}, set it to {v}",
        "Keep {n} from going under {v} with an if statement",
        "if {n} < {v} then {n} = {v}",
    ];
    let mut intent = Intent::new("statement_if", "statement", &["comparison", "name", "value"]);
    for (comparison, templates) in [(">", ABOVE), ("<", BELOW)] {
        for n in STATEMENT_NAMES {
            for v in STATEMENT_VALUES {
                let code = "if {n} {c} {v} {\n    {n} = {v};\n}";
                intent.add(&[comparison, n, v], &templates, code, &[("n", n), ("c", comparison), ("v", v)]);
            }
        }
    }
    intent
}

fn loops() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Loop {count} times, adding {v} to {n} each time",
        "Write a for loop over i from 0 to {count} that adds {v} to {n}",
        "for loop with {count} iterations: {n} += {v}",
        "Repeat {count} times: increase {n} by {v}",
    ];
    let mut intent = Intent::new("statement_loop", "statement", &["count", "name", "value"]);
    for count in ["4", "8", "10", "16"] {
        for n in ["total", "x", "sum", "offset"] {
            for v in ["0.5", "1.0", "2.5"] {
                let code = "for (var i = 0; i < {count}; i++) {\n    {n} += {v};\n}";
                intent.add(&[count, n, v], &TEMPLATES, code, &[("count", count), ("n", n), ("v", v)]);
            }
        }
    }
    intent
}

// --- whole modules around a snippet ----------------------------------------------------------

fn wrapped_fragments() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Wrap the value {expr} in a fragment shader",
        "Put {expr} into a complete fragment shader that returns it",
        "Write a full fragment shader whose output is {expr}",
        "Make a whole WGSL module: a fragment entry point returning {expr}",
    ];
    let mut intent = Intent::new("wrap_fragment", "wrapped_shader", &["expression"]);
    let mut expressions: Vec<String> = COLORS[..10].iter().map(|c: &Color| c.vec4("1.0")).collect();
    expressions.extend(
        [
            "vec4<f32>(uv, 0.0, 1.0)",
            "vec4<f32>(uv.x, uv.y, 0.5, 1.0)",
            "vec4<f32>(vec3<f32>(uv.x), 1.0)",
            "vec4<f32>(1.0 - uv.x, uv.y, 0.0, 1.0)",
        ]
        .map(String::from),
    );
    for expr in &expressions {
        let code = if expr.contains("uv") {
            FRAGMENT_UV.replace("{body}", &format!("    return {expr};"))
        } else {
            FRAGMENT_CONSTANT.replace("{value}", expr)
        };
        intent.add(&[expr], &TEMPLATES, &code, &[("expr", expr)]);
    }
    intent
}

fn wrapped_vertices() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Wrap {expr} in a vertex shader with a vec3 position at location {loc}",
        "Put {expr} into a complete vertex shader; the position comes in at location {loc}",
        "Write a full vertex shader returning {expr} for the 3D position at location {loc}",
        "Make a whole module with a vertex entry point that outputs {expr}, position at @location({loc})",
    ];
    const CODE: &str = "\
@vertex
fn main(@location({loc}) position: vec3<f32>) -> @builtin(position) vec4<f32> {
    return {expr};
}";
    let expressions = [
        "vec4<f32>(position, 1.0)",
        "vec4<f32>(position * 0.5, 1.0)",
        "vec4<f32>(position.xy, 0.0, 1.0)",
        "vec4<f32>(position.x, -position.y, position.z, 1.0)",
        "vec4<f32>(position * 2.0, 1.0)",
    ];
    let mut intent = Intent::new("wrap_vertex", "wrapped_shader", &["expression", "location"]);
    for expr in expressions {
        for loc in ["0", "1"] {
            intent.add(&[expr, loc], &TEMPLATES, CODE, &[("expr", expr), ("loc", loc)]);
        }
    }
    intent
}

fn wrapped_computes() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Wrap {statement} in a compute shader with workgroup size {wg} over a storage buffer data at binding {b}",
        "Put the statement {statement} into a complete compute shader ({wg} threads per workgroup, data at binding {b})",
        "Write a full compute shader that runs {statement} for every element of data, bound at @binding({b}), workgroup size {wg}",
        "Make a whole module with a compute entry point of workgroup size {wg} doing {statement} with data at binding {b}",
    ];
    let mut intent = Intent::new("wrap_compute", "wrapped_shader", &["operation", "workgroup_size", "binding"]);
    for (operation, _, value) in compute_operations() {
        let statement = format!("data[id.x] = {value};");
        for wg in ["64", "128", "256"] {
            for b in ["0", "1"] {
                let vars = [("statement", statement.as_str()), ("value", value.as_str()), ("wg", wg), ("b", b)];
                intent.add(&[&operation, wg, b], &TEMPLATES, super::COMPUTE_MAP, &vars);
            }
        }
    }
    intent
}

// --- shaders asked for without every detail --------------------------------------------------

fn plain_computes() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Write a compute shader that {action}",
        "Create a compute shader which {action}",
        "I need a compute shader that {action}",
        "A WGSL compute kernel that {action}",
    ];
    let mut intent = Intent::new("compute_plain", "compute_shader", &["operation"]);
    for (operation, action, value) in compute_operations() {
        let action = action.replace("{buffer}", "a storage buffer of floats");
        let vars = [("action", action.as_str()), ("value", value.as_str()), ("wg", "64"), ("b", "0")];
        intent.add(&[&operation], &TEMPLATES, super::COMPUTE_MAP, &vars);
    }
    intent
}

fn plain_textures() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Write a fragment shader that {effect}",
        "Create a fragment shader which {effect}",
        "I need a fragment shader that {effect}",
        "A WGSL fragment shader that {effect}",
    ];
    let mut intent = Intent::new("fragment_texture_plain", "fragment_shader", &["effect"]);
    for (effect, body) in super::texture_effects() {
        let vars = [("effect", effect), ("body", body.as_str()), ("g", "0"), ("t", "0"), ("s", "1")];
        intent.add(&[effect], &TEMPLATES, FRAGMENT_TEXTURE, &vars);
    }
    intent
}

fn plain_solid_fragments() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Write a fragment shader that makes everything {color}",
        "A fragment shader that colors all pixels {color}",
        "I need a fragment shader that returns {color}",
        "Create a {color} fragment shader",
    ];
    let mut intent = Intent::new("fragment_solid_plain", "fragment_shader", &["color"]);
    for color in &COLORS {
        let value = color.vec4("1.0");
        intent.add(&[color.name], &TEMPLATES, FRAGMENT_CONSTANT, &[("value", value.as_str()), ("color", color.name)]);
    }
    intent
}

fn plain_vertices() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Write a vertex shader that {does}",
        "Create a vertex shader which {does}",
        "I need a vertex shader that {does}",
        "A WGSL vertex shader that {does}",
    ];
    const CODE: &str = "\
@vertex
fn main(@location(0) position: vec3<f32>) -> @builtin(position) vec4<f32> {
    return {value};
}";
    let transforms = [
        ("passthrough", "passes the 3D position through unchanged", "vec4<f32>(position, 1.0)"),
        ("half", "scales the 3D position by 0.5", "vec4<f32>(position * 0.5, 1.0)"),
        ("double", "scales the 3D position by 2.0", "vec4<f32>(position * 2.0, 1.0)"),
        ("flip", "flips the 3D position upside down", "vec4<f32>(position.x, -position.y, position.z, 1.0)"),
    ];
    let mut intent = Intent::new("vertex_plain", "vertex_shader", &["transform"]);
    for (transform, does, value) in transforms {
        intent.add(&[transform], &TEMPLATES, CODE, &[("does", does), ("value", value)]);
    }
    intent
}
