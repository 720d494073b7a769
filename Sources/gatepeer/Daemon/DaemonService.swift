/// One part of `gatepeer run` (the reconcile loop, name resolution, the DNS forwarder,
/// signal handling). The daemon starts each in order, hands each a validated config on
/// SIGHUP, and stops them in reverse order. Every call comes on the daemon's state queue
/// (DaemonContext.queue), so a service needs no lock for the daemon's state.
protocol DaemonService: AnyObject {
    /// Begins the service's work with the running config (timers, sockets, handlers).
    func start()
    /// Takes the config just read on SIGHUP (already valid; DaemonContext.config holds it).
    /// A change the service cannot make is logged and leaves it as it was.
    func reload()
    /// Ends the service's work; what it applied to the kernel stays.
    func stop()
}
