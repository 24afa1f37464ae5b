fn main() {
    tat_build::link_libtorch();
    // An installed wheel sits beside torch in site-packages: find its libtorch there, not in the
    // virtual environment the wheel was built in (importing torch first also loads it).
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../torch/lib");
}
