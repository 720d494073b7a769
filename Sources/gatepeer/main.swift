import GatePeerCore
import Glibc

/// Every command, each in its own file under Commands/.
let commands: [any GatePeerCommand.Type] = [
    ValidateCommand.self, PlanCommand.self, ApplyCommand.self, StatusCommand.self, MetricsCommand.self, DownCommand.self, RunCommand.self,
    FilterCheckCommand.self, FilterShowCommand.self, FilterGrantCommand.self, FilterRevokeCommand.self, FilterGrantsCommand.self,
    IPsecRenderCommand.self, IPsecLintCommand.self, IPsecPSKCommand.self, IPsecApplyCommand.self,
    HealthCommand.self, HARenderCommand.self, HANotifyCommand.self,
]

do throws(UsageError) {
    switch try CommandLineParser(commands: commands).parse(Array(CommandLine.arguments.dropFirst())) {
    case .help(let text):
        print(text)
        exit(Exit.ok.rawValue)
    case .version:
        print("gatepeer 0.1.0")
        exit(Exit.ok.rawValue)
    case .run(let command, let invocation):
        // The environment is input too: a bad GATEPEER_* value stops every command before it acts.
        do throws(SettingError) {
            try Settings.check()
        } catch {
            Console.error("gatepeer: \(error)")
            exit(Exit.usage.rawValue)
        }
        exit(try command.run(CommandContext(invocation: invocation)).rawValue)
    }
} catch {
    for line in error.message.split(separator: "\n") { Console.error("gatepeer: \(line)") }
    if let usage = error.usage { Console.error(usage) }
    exit(Exit.usage.rawValue)
}
