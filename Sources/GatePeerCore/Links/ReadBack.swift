/// What an apply achieved, judged by reading the kernel back: the plan made after the
/// apply lists what the kernel still does not hold. A change the kernel answered with
/// success but did not carry out (an FDB delete that matched no remote) shows up here.
public struct ReadBack: Equatable, Sendable {
    /// Changes of the applied plan that are no longer wanted (0 ... planned count).
    public var applied: Int
    /// Lines of the plan made after the apply that the applied plan already held: changes
    /// gatepeer asked for and the kernel did not take (refused, or answered success and did
    /// nothing).
    public var notTaken: [String]
    /// Lines of the plan made after the apply that the applied plan did not hold: drift
    /// that appeared while it ran (another tool deleted or changed something), never tried.
    public var changedDuringApply: [String]
    /// `Plan.Change.identity` of each not-taken change, to tell which planned changes did
    /// not happen (the line after the apply may differ: "~ A -> B" planned, "+ B" left).
    public var notTakenIdentities: Set<String>

    /// `planned`: the plan that was applied; `after`: the plan made by observing the kernel
    /// again afterwards. Changes are matched by `Plan.Change.identity`, not by text.
    public init(planned: Plan, after: Plan) {
        let still = Set(after.changes.map(\.identity))
        let asked = Set(planned.changes.map(\.identity))
        applied = planned.changes.filter { !still.contains($0.identity) }.count
        notTaken = after.changes.filter { asked.contains($0.identity) }.map(\.line)
        notTakenIdentities = Set(after.changes.map(\.identity)).intersection(asked)
        changedDuringApply = after.changes.filter { !asked.contains($0.identity) }.map(\.line)
    }
}
