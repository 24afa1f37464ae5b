fn main() {
    println!("tiny-agent-trainer");
}
