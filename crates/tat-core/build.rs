//! Links libtorch and compiles `csrc/native.cpp`, the libtorch calls tch does not expose.

fn main() {
    tat_build::link_libtorch();
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys exports its lib directory");
    let include = std::path::Path::new(&lib).join("../include");
    println!("cargo:rerun-if-changed=csrc/native.cpp");
    cc::Build::new()
        .cpp(true)
        .file("csrc/native.cpp")
        .include(&include)
        .flag("-std=c++17")
        // pip's torch is built with the C++11 string ABI, as torch-sys assumes.
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .flag_if_supported("-Wno-unused-parameter")
        .warnings(false)
        .compile("tat_native");
}
