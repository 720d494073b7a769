/// A state problem for the user: the path and what is wrong.
struct StateError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
