//! WGSL validation: whole modules, the snippet harness, and where diagnostics point.

use proptest::prelude::*;
use tat_core::wgsl::{is_full_shader, validate_module, validate_snippet, Diagnostic};

const SOLID_RED: &str = "@fragment
fn main() -> @location(0) vec4<f32> {
    return vec4<f32>(1.0, 0.0, 0.0, 1.0);
}
";

#[test]
fn a_valid_module_has_no_diagnostics() {
    assert_eq!(validate_module(SOLID_RED), vec![]);
    assert_eq!(validate_snippet(SOLID_RED), vec![]);
}

#[test]
fn a_parse_error_points_at_its_line_and_column() {
    let source = "@fragment\nfn main() -> @location(0) vec4<f32> {\n    let x = 1.0\n    return vec4<f32>(x);\n}\n";
    let diagnostics = validate_module(source);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let d = &diagnostics[0];
    assert_eq!((d.line, d.column), (4, 5), "{d:?}");
    assert!(d.message.contains("expected `;`"), "{d:?}");
}

#[test]
fn a_validation_error_points_at_the_offending_expression() {
    let source = "fn f(a: vec3<f32>) -> f32 {\n    return a * 2.0;\n}\n";
    let diagnostics = validate_module(source);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (2, 12), "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("return"), "{diagnostics:?}");
}

#[test]
fn the_harness_accepts_snippets_with_free_names() {
    for code in [
        "normalize(v)",
        "mix(a, b, 0.5)",
        "vec4<f32>(1.0, 0.0, 0.0, 1.0)",
        "let g = dot(color, vec3<f32>(0.299, 0.587, 0.114));",
        "textureSample(tex, samp, uv)",
        "m * vec4<f32>(p, 1.0)",
        "select(a, b, flag)",
        "return normalize(v);",
        "if x > 0.5 { return a; }\nreturn b;",
        "fn luminance(c: vec3<f32>) -> f32 { return dot(c, weights); }",
        "// a comment first\nlength(v) * 2.0",
        "normalize(v) // a comment is no statement;",
        "// return is only a word here\nlet a = v;",
        "color = color * 0.5;",
        // Parses as a module (a global with no address space), means a function's variable.
        "var speed = 2.5;",
        "var counter: u32 = 0u;\ncounter = counter + 1u;",
    ] {
        assert_eq!(validate_snippet(code), vec![], "{code:?}");
    }
}

#[test]
fn the_harness_rejects_wrong_snippets() {
    for code in ["normalize(1, 2, 3)", "vec4<f32>(1.0, 0.0)", "luminance(color)", "let x = 1.0", "", "// empty", "x +"]
    {
        let diagnostics = validate_snippet(code);
        assert_eq!(diagnostics.len(), 1, "{code:?} gave {diagnostics:?}");
    }
    assert!(validate_snippet("normalize(1, 2, 3)")[0].message.contains("normalize"));
    assert!(validate_snippet("vec4<f32>(1.0, 0.0)")[0].message.contains("4 components"));
    assert!(validate_snippet("luminance(color)")[0].message.contains("`luminance`"));
}

#[test]
fn a_whole_shader_gets_no_harness() {
    let uses_undeclared_time =
        "@fragment\nfn main() -> @location(0) vec4<f32> {\n    return vec4<f32>(sin(time));\n}\n";
    let diagnostics = validate_snippet(uses_undeclared_time);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (3, 26), "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("`time`"), "{diagnostics:?}");
}

#[test]
fn snippet_diagnostics_point_into_the_snippet_not_the_harness() {
    let expression = validate_snippet("1.0 + normalize(1, 2, 3)");
    assert_eq!((expression[0].line, expression[0].column), (1, 7), "{expression:?}");

    let statements = validate_snippet("let a = 1.0;\nlet b = a +;");
    assert_eq!((statements[0].line, statements[0].column), (2, 12), "{statements:?}");

    // The missing `;` is noticed at the harness's closing brace: reported at the snippet's end.
    let unterminated = validate_snippet("let a = 1.0");
    assert_eq!((unterminated[0].line, unterminated[0].column), (1, 12), "{unterminated:?}");
}

#[test]
fn the_reported_diagnostic_is_where_the_best_typing_stopped() {
    // Typings that make `a` and `b` scalars stop at `dot`; the best one stops at `e.q`.
    let diagnostics = validate_snippet("dot(a, b) + c.w + e.q");
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (1, 21), "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("`q`"), "{diagnostics:?}");
}

#[test]
fn render_is_file_line_column_message() {
    let d = Diagnostic { line: 3, column: 7, message: "expected `;`".to_string() };
    assert_eq!(d.render("shader.wgsl"), "shader.wgsl:3:7: expected `;`");
}

#[test]
fn full_shaders_need_an_entry_point() {
    assert!(is_full_shader(SOLID_RED));
    assert!(is_full_shader("@compute @workgroup_size(1)\nfn main() {}\n"));
    assert!(!is_full_shader("fn invert(c: vec3<f32>) -> vec3<f32> { return vec3<f32>(1.0) - c; }"));
    assert!(!is_full_shader("normalize(v)"));
}

proptest! {
    #[test]
    fn diagnostics_always_lie_inside_the_snippet(code in "[a-z0-9(),.;+*<>{}=@ \n]{0,40}") {
        for d in validate_snippet(&code) {
            let lines: Vec<&str> = code.split('\n').collect();
            prop_assert!(d.line >= 1 && d.line <= lines.len(), "{d:?}");
            prop_assert!(d.column >= 1 && d.column <= lines[d.line - 1].chars().count() + 1, "{d:?}");
            prop_assert!(!d.message.contains('\n'), "{d:?}");
        }
    }
}
